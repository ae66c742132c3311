/* Shared-memory frame ring; see gently_ring.h for the protocol.
 * The slot protocol is the same everywhere; only the mapping and the
 * producer's sleep differ: a /dev/shm file and a futex on Linux, a named
 * file mapping and a named event on Windows. */
#define _GNU_SOURCE
#include "gently_ring.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <windows.h>
#else
#include <fcntl.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#endif

#define GR_MAGIC 0x474e494c52544e47ULL /* "GNTRLING" little-endian tag */
#define GR_ALIGN 4096ULL

/* Slot word layout: seq (48 bits) | generation (14 bits) | state (2 bits). */
#define W_STATE(w) ((uint32_t)((w)&3ULL))
#define W_GEN(w) (((w) >> 2) & 0x3FFFULL)
#define W_SEQ(w) ((w) >> 16)
#define W_MAKE(seq, gen, st) (((uint64_t)(seq) << 16) | (((uint64_t)(gen)&0x3FFFULL) << 2) | (uint64_t)(st))

typedef struct {
  _Atomic uint64_t word;
  _Atomic uint64_t bytes;
  uint8_t pad[48]; /* one cache line per slot: producer and readers touch different slots */
} gr_slot_rec;

typedef struct {
  uint64_t magic;
  uint32_t version;
  uint32_t num_slots;
  uint64_t slot_bytes;
  uint64_t slot_stride;
  uint64_t data_offset;
  uint64_t total_bytes;
  _Atomic uint32_t free_events; /* futex word: bumped whenever a slot becomes FREE */
  _Atomic uint32_t waiters;     /* producers sleeping on free_events */
  uint8_t pad[8];
} gr_header;

_Static_assert(sizeof(gr_slot_rec) == 64, "slot record is one cache line");
_Static_assert(sizeof(gr_header) == 64, "header is one cache line");

struct gr_ring {
  uint8_t *base;
  size_t size;
  gr_header *hdr;
  gr_slot_rec *slots;
  uint32_t next; /* round-robin start for this producer, keeps frames in slot order */
#ifdef _WIN32
  HANDLE mapping;    /* keeps the named mapping alive while this process has the ring */
  HANDLE free_event; /* named auto-reset event: a slot became FREE while the producer slept */
#endif
};

static void set_err(char *err, size_t cap, const char *fmt, ...) {
  if (!err || cap == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, cap, fmt, ap);
  va_end(ap);
}

static uint64_t round_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

static gr_ring *wrap_mapping(void *p, size_t size, char *err, size_t cap) {
  gr_ring *r = calloc(1, sizeof *r);
  if (!r) {
    set_err(err, cap, "out of memory");
    return NULL;
  }
  r->base = p;
  r->size = size;
  r->hdr = p;
  r->slots = (gr_slot_rec *)((uint8_t *)p + sizeof(gr_header));
  return r;
}

#ifdef _WIN32
/* ---- Windows: a named, pagefile-backed file mapping (e.g. Local\gently-ring-60600). ---- */

static wchar_t *wide(const char *s) {
  int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
  if (n <= 0) return NULL;
  wchar_t *w = malloc((size_t)n * sizeof *w);
  if (w && MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n) <= 0) {
    free(w);
    return NULL;
  }
  return w;
}

static void set_win_err(char *err, size_t cap, const char *what, const char *name) {
  DWORD code = GetLastError();
  char text[256] = "";
  FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, code, 0, text, sizeof text, NULL);
  size_t n = strlen(text);
  while (n > 0 && (text[n - 1] == '\r' || text[n - 1] == '\n' || text[n - 1] == '.')) text[--n] = 0;
  set_err(err, cap, "%s '%s': %s (Windows error %lu)", what, name, text, (unsigned long)code);
}

/* The producer's wake-up event lives beside the mapping under "<name>.free". */
static HANDLE open_free_event(const char *name, char *err, size_t cap) {
  size_t n = strlen(name);
  char *ev_name = malloc(n + 6);
  if (!ev_name) return set_err(err, cap, "out of memory"), NULL;
  memcpy(ev_name, name, n);
  memcpy(ev_name + n, ".free", 6);
  wchar_t *w = wide(ev_name);
  HANDLE h = w ? CreateEventW(NULL, FALSE, FALSE, w) : NULL;
  if (!h) set_win_err(err, cap, "create event", ev_name);
  free(w);
  free(ev_name);
  return h;
}

/* Size of the view at p: the section's size rounded up to pages (ring sizes are whole pages). */
static size_t view_size(void *p) {
  MEMORY_BASIC_INFORMATION mbi;
  return VirtualQuery(p, &mbi, sizeof mbi) == sizeof mbi ? mbi.RegionSize : 0;
}

static gr_ring *attach(const char *name, HANDLE mapping, size_t want, char *err, size_t cap) {
  void *p = MapViewOfFile(mapping, FILE_MAP_ALL_ACCESS, 0, 0, want);
  if (!p) {
    set_win_err(err, cap, "map ring", name);
    CloseHandle(mapping);
    return NULL;
  }
  size_t size = want ? want : view_size(p);
  HANDLE ev = open_free_event(name, err, cap);
  gr_ring *r = ev ? wrap_mapping(p, size, err, cap) : NULL;
  if (!r) {
    if (ev) CloseHandle(ev);
    UnmapViewOfFile(p);
    CloseHandle(mapping);
    return NULL;
  }
  r->mapping = mapping;
  r->free_event = ev;
  return r;
}

/* A name cannot be unlinked while another process holds it, so an existing
 * ring of the same size is reused (the caller re-initialises every slot, and
 * old readers' (slot, seq) checks then fail as stale); another size is refused. */
static gr_ring *map_new(const char *path, uint64_t total, char *err, size_t cap) {
  wchar_t *w = wide(path);
  if (!w) return set_err(err, cap, "ring name '%s' is not valid UTF-8", path), NULL;
  /* SEC_COMMIT: the whole size is charged against the commit limit now, so
   * a machine short of memory fails here instead of mid-acquisition. */
  HANDLE m = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE | SEC_COMMIT, (DWORD)(total >> 32),
                                (DWORD)(total & 0xffffffffu), w);
  DWORD created = GetLastError();
  free(w);
  if (!m) return set_win_err(err, cap, "create ring", path), NULL;
  if (created != ERROR_ALREADY_EXISTS) return attach(path, m, (size_t)total, err, cap);
  gr_ring *r = attach(path, m, 0, err, cap);
  if (r && r->size != total) {
    set_err(err, cap,
            "ring '%s' is still open in another process with %llu bytes, %llu wanted: stop the process "
            "that has it open (the writer) and start again",
            path, (unsigned long long)r->size, (unsigned long long)total);
    gr_close(r);
    return NULL;
  }
  return r;
}

static gr_ring *map_existing(const char *path, char *err, size_t cap) {
  wchar_t *w = wide(path);
  if (!w) return set_err(err, cap, "ring name '%s' is not valid UTF-8", path), NULL;
  HANDLE m = OpenFileMappingW(FILE_MAP_ALL_ACCESS, FALSE, w);
  free(w);
  if (!m) return set_win_err(err, cap, "open ring", path), NULL;
  gr_ring *r = attach(path, m, 0, err, cap);
  if (r && r->size < GR_ALIGN) {
    set_err(err, cap, "'%s' is not a ring (size %llu)", path, (unsigned long long)r->size);
    gr_close(r);
    return NULL;
  }
  return r;
}

static void unmap(gr_ring *r) {
  UnmapViewOfFile(r->base);
  CloseHandle(r->free_event);
  CloseHandle(r->mapping);
}

/* Named mappings vanish with their last handle: nothing to remove. */
int gr_unlink(const char *path) { return path ? GR_OK : GR_E_ARGUMENT; }

static void wake_producer(gr_ring *r) { SetEvent(r->free_event); }

/* Sleeps until a release signals the event or rel_ns passes; returns at once
 * if free_events moved past ev after this producer announced itself. */
static void sleep_until_free(gr_ring *r, uint32_t ev, uint64_t rel_ns) {
  atomic_fetch_add(&r->hdr->waiters, 1);
  if (atomic_load(&r->hdr->free_events) == ev) WaitForSingleObject(r->free_event, (DWORD)((rel_ns + 999999) / 1000000));
  atomic_fetch_sub(&r->hdr->waiters, 1);
}

static uint64_t now_ns(void) {
  static LARGE_INTEGER freq;
  LARGE_INTEGER t;
  if (!freq.QuadPart) QueryPerformanceFrequency(&freq);
  QueryPerformanceCounter(&t);
  return (uint64_t)(t.QuadPart / freq.QuadPart) * 1000000000ULL +
         (uint64_t)(t.QuadPart % freq.QuadPart) * 1000000000ULL / (uint64_t)freq.QuadPart;
}

#else
/* ---- Linux: a file (normally under /dev/shm) mapped MAP_SHARED. ---- */

static gr_ring *map_fd(int fd, size_t size, char *err, size_t cap, const char *path) {
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    set_err(err, cap, "mmap '%s' (%zu bytes): %s", path, size, strerror(errno));
    return NULL;
  }
  gr_ring *r = wrap_mapping(p, size, err, cap);
  if (!r) munmap(p, size);
  return r;
}

static gr_ring *map_new(const char *path, uint64_t total, char *err, size_t cap) {
  /* Unlink first: readers still mapping an old ring keep a valid (orphaned)
   * file instead of seeing it truncated under them (SIGBUS). */
  if (unlink(path) != 0 && errno != ENOENT)
    return set_err(err, cap, "unlink old ring '%s': %s", path, strerror(errno)), NULL;
  int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0660);
  if (fd < 0) return set_err(err, cap, "create ring '%s': %s", path, strerror(errno)), NULL;
  if (ftruncate(fd, (off_t)total) != 0) {
    set_err(err, cap, "size ring '%s' to %llu bytes: %s", path, (unsigned long long)total, strerror(errno));
    close(fd);
    unlink(path);
    return NULL;
  }
  /* Reserve the pages now so a full /dev/shm fails here, not as SIGBUS mid-acquisition. */
  int pe = posix_fallocate(fd, 0, (off_t)total);
  if (pe != 0 && pe != EOPNOTSUPP && pe != EINVAL) {
    set_err(err, cap, "allocate %llu bytes for ring '%s': %s", (unsigned long long)total, path, strerror(pe));
    close(fd);
    unlink(path);
    return NULL;
  }
  gr_ring *r = map_fd(fd, (size_t)total, err, cap, path);
  close(fd);
  if (!r) unlink(path);
  return r;
}

static gr_ring *map_existing(const char *path, char *err, size_t cap) {
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) return set_err(err, cap, "open ring '%s': %s", path, strerror(errno)), NULL;
  struct stat st;
  if (fstat(fd, &st) != 0 || (uint64_t)st.st_size < GR_ALIGN) {
    set_err(err, cap, "'%s' is not a ring (size %lld)", path, (long long)st.st_size);
    close(fd);
    return NULL;
  }
  gr_ring *r = map_fd(fd, (size_t)st.st_size, err, cap, path);
  close(fd);
  return r;
}

static void unmap(gr_ring *r) { munmap(r->base, r->size); }

int gr_unlink(const char *path) {
  if (!path) return GR_E_ARGUMENT;
  return unlink(path) == 0 || errno == ENOENT ? GR_OK : GR_E_SYSTEM;
}

static void wake_producer(gr_ring *r) {
  /* Not FUTEX_PRIVATE: the word lives in a mapping shared between processes. */
  syscall(SYS_futex, (uint32_t *)&r->hdr->free_events, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* Sleeps until free_events moves past ev (a release) or rel_ns passes. */
static void sleep_until_free(gr_ring *r, uint32_t ev, uint64_t rel_ns) {
  struct timespec rel = {(time_t)(rel_ns / 1000000000ULL), (long)(rel_ns % 1000000000ULL)};
  atomic_fetch_add_explicit(&r->hdr->waiters, 1, memory_order_acq_rel);
  syscall(SYS_futex, (uint32_t *)&r->hdr->free_events, FUTEX_WAIT, ev, &rel, NULL, 0);
  atomic_fetch_sub_explicit(&r->hdr->waiters, 1, memory_order_acq_rel);
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}
#endif

static void signal_free(gr_ring *r) {
  atomic_fetch_add(&r->hdr->free_events, 1);
  if (atomic_load(&r->hdr->waiters) > 0) wake_producer(r);
}

gr_ring *gr_create(const char *path, uint64_t slot_bytes, uint32_t num_slots, char *err, size_t cap) {
  if (!path || !*path) return set_err(err, cap, "ring path is empty"), NULL;
  if (slot_bytes == 0 || num_slots == 0 || num_slots > (1u << 20))
    return set_err(err, cap, "bad ring geometry: slot_bytes=%llu num_slots=%u", (unsigned long long)slot_bytes,
                   num_slots),
           NULL;
  uint64_t stride = round_up(slot_bytes, GR_ALIGN);
  uint64_t data_offset = round_up(sizeof(gr_header) + (uint64_t)num_slots * sizeof(gr_slot_rec), GR_ALIGN);
  if (stride > (UINT64_MAX - data_offset) / num_slots)
    return set_err(err, cap, "ring too large: %u slots of %llu bytes", num_slots, (unsigned long long)slot_bytes),
           NULL;
  uint64_t total = data_offset + stride * num_slots;
  if (total > SIZE_MAX) return set_err(err, cap, "ring of %llu bytes does not fit the address space", (unsigned long long)total), NULL;

  gr_ring *r = map_new(path, total, err, cap);
  if (!r) return NULL;
  gr_header *h = r->hdr;
  /* Magic first cleared, last set: a reader that opens a half-initialised ring is refused. */
  h->magic = 0;
  atomic_thread_fence(memory_order_release);
  h->version = GR_VERSION;
  h->num_slots = num_slots;
  h->slot_bytes = slot_bytes;
  h->slot_stride = stride;
  h->data_offset = data_offset;
  h->total_bytes = total;
  atomic_store(&h->free_events, 0);
  atomic_store(&h->waiters, 0);
  for (uint32_t i = 0; i < num_slots; i++) {
    atomic_store(&r->slots[i].word, W_MAKE(0, 0, GR_STATE_FREE));
    atomic_store(&r->slots[i].bytes, 0);
  }
  atomic_thread_fence(memory_order_release);
  h->magic = GR_MAGIC;
  return r;
}

gr_ring *gr_open(const char *path, char *err, size_t cap) {
  if (!path || !*path) return set_err(err, cap, "ring path is empty"), NULL;
  gr_ring *r = map_existing(path, err, cap);
  if (!r) return NULL;
  gr_header *h = r->hdr;
  atomic_thread_fence(memory_order_acquire);
  const char *why = NULL;
  if (h->magic != GR_MAGIC)
    why = "bad magic";
  else if (h->version != GR_VERSION)
    why = "unsupported version";
  else if (h->total_bytes != (uint64_t)r->size || h->num_slots == 0 ||
           h->data_offset < sizeof(gr_header) + (uint64_t)h->num_slots * sizeof(gr_slot_rec) ||
           h->data_offset + h->slot_stride * h->num_slots != h->total_bytes || h->slot_bytes > h->slot_stride)
    why = "inconsistent header";
  if (why) {
    set_err(err, cap, "'%s' is not a gently ring: %s", path, why);
    gr_close(r);
    return NULL;
  }
  return r;
}

void gr_close(gr_ring *r) {
  if (!r) return;
  unmap(r);
  free(r);
}

void *gr_slot_ptr(gr_ring *r, uint32_t slot) {
  if (!r || slot >= r->hdr->num_slots) return NULL;
  return r->base + r->hdr->data_offset + (uint64_t)slot * r->hdr->slot_stride;
}

static int try_acquire(gr_ring *r) {
  uint32_t n = r->hdr->num_slots;
  for (uint32_t k = 0; k < n; k++) {
    uint32_t i = (r->next + k) % n;
    uint64_t w = atomic_load_explicit(&r->slots[i].word, memory_order_acquire);
    if (W_STATE(w) != GR_STATE_FREE) continue;
    uint64_t nw = W_MAKE(W_SEQ(w), W_GEN(w) + 1, GR_STATE_WRITING);
    if (atomic_compare_exchange_strong_explicit(&r->slots[i].word, &w, nw, memory_order_acq_rel,
                                                memory_order_acquire)) {
      r->next = (i + 1) % n;
      return (int)i;
    }
  }
  return GR_E_TIMEOUT;
}

int gr_acquire(gr_ring *r, uint32_t timeout_ms) {
  if (!r) return GR_E_ARGUMENT;
  uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ULL;
  for (;;) {
    /* Read the event counter before scanning: a release after the scan
     * changes it and the futex wait returns at once (no lost wake-up). */
    uint32_t ev = atomic_load_explicit(&r->hdr->free_events, memory_order_acquire);
    int s = try_acquire(r);
    if (s >= 0) return s;
    uint64_t now = now_ns();
    if (now >= deadline) return GR_E_TIMEOUT;
    uint64_t left = deadline - now;
    /* Cap each sleep so a reader process that died mid-protocol (never
     * waking us) only costs latency, and a reset is noticed promptly. */
    if (left > 50000000ULL) left = 50000000ULL;
    sleep_until_free(r, ev, left);
  }
}

int gr_write(gr_ring *r, uint32_t slot, const void *src, uint64_t bytes) {
  if (!r || slot >= r->hdr->num_slots || (!src && bytes) || bytes > r->hdr->slot_bytes) return GR_E_ARGUMENT;
  uint64_t w = atomic_load_explicit(&r->slots[slot].word, memory_order_acquire);
  if (W_STATE(w) != GR_STATE_WRITING) return GR_E_STATE;
  memcpy(gr_slot_ptr(r, slot), src, bytes);
  return GR_OK;
}

int gr_commit(gr_ring *r, uint32_t slot, uint64_t seq, uint64_t bytes) {
  if (!r || slot >= r->hdr->num_slots || seq > GR_SEQ_MAX || bytes > r->hdr->slot_bytes) return GR_E_ARGUMENT;
  gr_slot_rec *s = &r->slots[slot];
  uint64_t w = atomic_load_explicit(&s->word, memory_order_acquire);
  if (W_STATE(w) != GR_STATE_WRITING) return GR_E_STATE;
  atomic_store_explicit(&s->bytes, bytes, memory_order_relaxed);
  /* CAS (not store) so a concurrent gr_reset that freed the slot wins. */
  if (!atomic_compare_exchange_strong_explicit(&s->word, &w, W_MAKE(seq, W_GEN(w), GR_STATE_FULL),
                                               memory_order_release, memory_order_relaxed))
    return GR_E_STATE;
  return GR_OK;
}

int gr_reset(gr_ring *r) {
  if (!r) return GR_E_ARGUMENT;
  for (uint32_t i = 0; i < r->hdr->num_slots; i++) {
    uint64_t w = atomic_load_explicit(&r->slots[i].word, memory_order_acquire);
    while (W_STATE(w) != GR_STATE_FREE &&
           !atomic_compare_exchange_weak_explicit(&r->slots[i].word, &w, W_MAKE(W_SEQ(w), W_GEN(w), GR_STATE_FREE),
                                                  memory_order_acq_rel, memory_order_acquire)) {
    }
  }
  r->next = 0;
  signal_free(r);
  return GR_OK;
}

int64_t gr_read(gr_ring *r, uint32_t slot, uint64_t seq, void *dst, uint64_t cap) {
  if (!r || slot >= r->hdr->num_slots) return GR_E_ARGUMENT;
  gr_slot_rec *s = &r->slots[slot];
  uint64_t w = atomic_load_explicit(&s->word, memory_order_acquire);
  if (W_STATE(w) != GR_STATE_FULL || W_SEQ(w) != seq) return GR_E_STALE;
  uint64_t bytes = atomic_load_explicit(&s->bytes, memory_order_relaxed);
  if (bytes > cap) return GR_E_BUFFER;
  if (!dst && bytes) return GR_E_ARGUMENT;
  memcpy(dst, gr_slot_ptr(r, slot), bytes);
  /* Seqlock-style check: if the slot changed during the copy the data may be torn. */
  atomic_thread_fence(memory_order_acquire);
  if (atomic_load_explicit(&s->word, memory_order_relaxed) != w) return GR_E_STALE;
  return (int64_t)bytes;
}

int gr_release(gr_ring *r, uint32_t slot, uint64_t seq) {
  if (!r || slot >= r->hdr->num_slots) return GR_E_ARGUMENT;
  gr_slot_rec *s = &r->slots[slot];
  uint64_t w = atomic_load_explicit(&s->word, memory_order_acquire);
  if (W_STATE(w) != GR_STATE_FULL || W_SEQ(w) != seq) return GR_E_STALE;
  /* CAS on the whole word (incl. generation): fails if anything changed since the check. */
  if (!atomic_compare_exchange_strong_explicit(&s->word, &w, W_MAKE(seq, W_GEN(w), GR_STATE_FREE),
                                               memory_order_acq_rel, memory_order_acquire))
    return GR_E_STALE;
  signal_free(r);
  return GR_OK;
}

int gr_slot_info(gr_ring *r, uint32_t slot, uint64_t *seq, uint64_t *bytes) {
  if (!r || slot >= r->hdr->num_slots) return GR_E_ARGUMENT;
  uint64_t w = atomic_load_explicit(&r->slots[slot].word, memory_order_acquire);
  if (seq) *seq = W_SEQ(w);
  if (bytes) *bytes = atomic_load_explicit(&r->slots[slot].bytes, memory_order_relaxed);
  return (int)W_STATE(w);
}

int gr_stats(gr_ring *r, uint32_t *free_slots, uint32_t *full_slots, uint32_t *num_slots, uint64_t *slot_bytes) {
  if (!r) return GR_E_ARGUMENT;
  uint32_t nf = 0, nu = 0;
  for (uint32_t i = 0; i < r->hdr->num_slots; i++) {
    uint32_t st = W_STATE(atomic_load_explicit(&r->slots[i].word, memory_order_relaxed));
    nf += st == GR_STATE_FREE;
    nu += st == GR_STATE_FULL;
  }
  if (free_slots) *free_slots = nf;
  if (full_slots) *full_slots = nu;
  if (num_slots) *num_slots = r->hdr->num_slots;
  if (slot_bytes) *slot_bytes = r->hdr->slot_bytes;
  return GR_OK;
}

const char *gr_strerror(int code) {
  switch (code) {
    case GR_OK: return "ok";
    case GR_E_ARGUMENT: return "bad argument";
    case GR_E_SYSTEM: return "system error";
    case GR_E_TIMEOUT: return "no free slot within the timeout";
    case GR_E_STALE: return "slot does not hold that frame";
    case GR_E_STATE: return "slot is not in the required state";
    case GR_E_BUFFER: return "destination buffer too small";
    default: return "unknown error";
  }
}
