/*
 * gently_ring.h — a shared-memory ring of fixed frame slots (libgently_ring.so).
 *
 * One file (normally under /dev/shm) holds a header, one state record per
 * slot and the slot data, each slot's data aligned to 4096 bytes. Any process
 * that maps the file sees the same slots, so a producer (the hardware service)
 * can let the core write pixels straight into a slot and readers in other
 * processes copy them out without the pixels passing through JavaScript.
 *
 * Slot life cycle (NDArrayPool style — a full slot is never overwritten):
 *
 *   FREE --gr_acquire--> WRITING --gr_commit(seq)--> FULL --gr_release(seq)--> FREE
 *
 * - Only FREE slots are handed out, so when readers fall behind gr_acquire
 *   blocks (up to its timeout) instead of overwriting: back-pressure, never
 *   silent loss.
 * - gr_read and gr_release name the frame by (slot, seq); if the slot no
 *   longer holds that frame (released, reset, reused) they fail with
 *   GR_E_STALE, so a late or duplicated release cannot free a newer frame.
 * - Each slot's state is one 64-bit atomic word in the mapping
 *   (seq:48 | generation:14 | state:2); the generation changes on every
 *   acquire, so a reader's copy is validated even if the same seq were reused.
 * - seq is the producer's frame number and must be < 2^48.
 *
 * Functions returning int return GR_OK (0) or a negative GR_E_* code;
 * gr_strerror() names the code.
 */
#ifndef GENTLY_RING_H
#define GENTLY_RING_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GR_VERSION 1
#define GR_SEQ_MAX ((1ULL << 48) - 1)

#define GR_OK 0
#define GR_E_ARGUMENT (-1) /* NULL ring, slot out of range, seq too large, bytes > slot_bytes */
#define GR_E_SYSTEM (-2)   /* open/mmap/ftruncate failed */
#define GR_E_TIMEOUT (-3)  /* no free slot within the timeout */
#define GR_E_STALE (-4)    /* the slot does not hold that seq (any more) */
#define GR_E_STATE (-5)    /* the slot is not in the state the call needs */
#define GR_E_BUFFER (-6)   /* destination smaller than the frame */

#define GR_STATE_FREE 0
#define GR_STATE_WRITING 1
#define GR_STATE_FULL 2

typedef struct gr_ring gr_ring;

/* Create (replacing any existing file at path: it is unlinked first, so old
 * readers keep their old mapping) and map a ring. NULL on failure, reason in err. */
gr_ring *gr_create(const char *path, uint64_t slot_bytes, uint32_t num_slots, char *err, size_t cap);
/* Map an existing ring (any process). NULL on failure, reason in err. */
gr_ring *gr_open(const char *path, char *err, size_t cap);
void gr_close(gr_ring *ring);
int gr_unlink(const char *path);

/* Address of a slot's data in this process's mapping (NULL if out of range). */
void *gr_slot_ptr(gr_ring *ring, uint32_t slot);

/* Producer: take a FREE slot (round robin), waiting up to timeout_ms for a
 * reader to release one. Returns the slot index (>= 0) or GR_E_TIMEOUT. */
int gr_acquire(gr_ring *ring, uint32_t timeout_ms);
/* Producer: copy bytes into an acquired (WRITING) slot. */
int gr_write(gr_ring *ring, uint32_t slot, const void *src, uint64_t bytes);
/* Producer: publish an acquired slot as frame `seq` of `bytes` bytes. */
int gr_commit(gr_ring *ring, uint32_t slot, uint64_t seq, uint64_t bytes);
/* Producer: mark every slot FREE (after an aborted acquisition or a restart). */
int gr_reset(gr_ring *ring);

/* Reader: copy frame `seq` out of `slot`. Returns its byte count (>= 0), or
 * GR_E_STALE if the slot does not hold that frame before and after the copy. */
int64_t gr_read(gr_ring *ring, uint32_t slot, uint64_t seq, void *dst, uint64_t cap);
/* Reader: free the slot if it still holds frame `seq`. */
int gr_release(gr_ring *ring, uint32_t slot, uint64_t seq);

/* Returns the slot's state (GR_STATE_*), its last seq and byte count. */
int gr_slot_info(gr_ring *ring, uint32_t slot, uint64_t *seq, uint64_t *bytes);
int gr_stats(gr_ring *ring, uint32_t *free_slots, uint32_t *full_slots, uint32_t *num_slots,
             uint64_t *slot_bytes);
const char *gr_strerror(int code);

#ifdef __cplusplus
}
#endif
#endif
