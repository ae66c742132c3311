import koffi, { type KoffiFunc } from "koffi";
import { cString, loadNativeLibrary } from "@gently/native";

/** Largest frame sequence number a ring can hold (48 bits; gently_ring.h). */
export const RING_SEQ_MAX = 2 ** 48 - 1;

export type RingErrorCode = "argument" | "system" | "timeout" | "stale" | "state" | "buffer" | "closed";

const CODES: Record<number, RingErrorCode> = {
  [-1]: "argument",
  [-2]: "system",
  [-3]: "timeout",
  [-4]: "stale",
  [-5]: "state",
  [-6]: "buffer",
};

/** A failed ring call; `code` says why (e.g. "stale": the slot no longer holds that frame). */
export class RingError extends Error {
  constructor(
    readonly code: RingErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "RingError";
  }
}

export type SlotState = "free" | "writing" | "full";
const STATES: SlotState[] = ["free", "writing", "full"];

export interface RingStats {
  free: number;
  full: number;
  /** Acquired by the producer and not yet committed. */
  writing: number;
  numSlots: number;
  slotBytes: number;
}

export interface SlotInfo {
  state: SlotState;
  /** Sequence number of the frame the slot holds or last held. */
  seq: number;
  bytes: number;
}

type Ptr = bigint;

interface RingApi {
  create(path: string, slotBytes: number, numSlots: number, err: Buffer, cap: number): Ptr | null;
  open(path: string, err: Buffer, cap: number): Ptr | null;
  close(ring: Ptr): void;
  unlink(path: string): number;
  slotPtr(ring: Ptr, slot: number): Ptr | null;
  acquire: KoffiFunc<(ring: Ptr, timeoutMs: number) => number>;
  write(ring: Ptr, slot: number, src: Uint8Array, bytes: number): number;
  commit(ring: Ptr, slot: number, seq: number, bytes: number): number;
  reset(ring: Ptr): number;
  read(ring: Ptr, slot: number, seq: number, dst: Uint8Array, cap: number): number;
  release(ring: Ptr, slot: number, seq: number): number;
  slotInfo(ring: Ptr, slot: number, seq: BigUint64Array, bytes: BigUint64Array): number;
  stats(ring: Ptr, free: Uint32Array, full: Uint32Array, n: Uint32Array, slotBytes: BigUint64Array): number;
  strerror(code: number): string;
}

let api: RingApi | undefined;

function bind(): RingApi {
  if (api) return api;
  const lib = loadNativeLibrary("gently_ring");
  // koffi type names are process-global and may be declared only once.
  try {
    koffi.type("gr_ring");
  } catch {
    koffi.opaque("gr_ring");
  }
  api = {
    create: lib.func(
      "gr_ring *gr_create(const char *path, uint64_t slot_bytes, uint32_t num_slots, _Out_ char *err, size_t cap)",
    ),
    open: lib.func("gr_ring *gr_open(const char *path, _Out_ char *err, size_t cap)"),
    close: lib.func("void gr_close(gr_ring *ring)"),
    unlink: lib.func("int gr_unlink(const char *path)"),
    slotPtr: lib.func("void *gr_slot_ptr(gr_ring *ring, uint32_t slot)"),
    acquire: lib.func("int gr_acquire(gr_ring *ring, uint32_t timeout_ms)") as RingApi["acquire"],
    write: lib.func("int gr_write(gr_ring *ring, uint32_t slot, const void *src, uint64_t bytes)"),
    commit: lib.func("int gr_commit(gr_ring *ring, uint32_t slot, uint64_t seq, uint64_t bytes)"),
    reset: lib.func("int gr_reset(gr_ring *ring)"),
    read: lib.func("int64_t gr_read(gr_ring *ring, uint32_t slot, uint64_t seq, _Out_ void *dst, uint64_t cap)"),
    release: lib.func("int gr_release(gr_ring *ring, uint32_t slot, uint64_t seq)"),
    slotInfo: lib.func("int gr_slot_info(gr_ring *ring, uint32_t slot, _Out_ uint64_t *seq, _Out_ uint64_t *bytes)"),
    stats: lib.func(
      "int gr_stats(gr_ring *ring, _Out_ uint32_t *free_slots, _Out_ uint32_t *full_slots, " +
        "_Out_ uint32_t *num_slots, _Out_ uint64_t *slot_bytes)",
    ),
    strerror: lib.func("const char *gr_strerror(int code)"),
  };
  return api;
}

function check(rc: number, what: string): number {
  if (rc >= 0) return rc;
  const a = bind();
  throw new RingError(CODES[rc] ?? "system", `${what}: ${a.strerror(rc)}`);
}

function checkSeq(seq: number): void {
  if (!Number.isSafeInteger(seq) || seq < 0 || seq > RING_SEQ_MAX)
    throw new RingError("argument", `ring seq must be an integer in [0, 2^48), got ${seq}`);
}

/**
 * One process's mapping of a shared-memory frame ring (native/include/gently_ring.h).
 * Producer side: acquire -> fill slot (slotPointer / write) -> commit.
 * Reader side: read -> release. A full slot is never overwritten.
 */
export class Ring {
  private handle: Ptr | null;
  private pendingAcquires = 0;
  private closeRequested = false;
  /**
   * One view per slot, made once: V8 counts every new external ArrayBuffer's
   * length as fresh memory, so a new 8 MB view per frame would set off a full
   * garbage collection every few frames.
   */
  private readonly slotViews: (Buffer | undefined)[] = [];
  readonly slotBytes: number;
  readonly numSlots: number;

  /** @internal use createRing / openRing */
  constructor(
    handle: Ptr,
    readonly path: string,
  ) {
    this.handle = handle;
    const s = this.stats();
    this.slotBytes = s.slotBytes;
    this.numSlots = s.numSlots;
  }

  private live(): Ptr {
    if (this.handle === null || this.closeRequested) throw new RingError("closed", `ring ${this.path} is closed`);
    return this.handle;
  }

  private checkSlot(slot: number): void {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.numSlots)
      throw new RingError("argument", `slot ${slot} out of range [0, ${this.numSlots})`);
  }

  /** Address of the slot's data in this process (for a native producer such as gc_pop_next). */
  slotPointer(slot: number): bigint {
    this.checkSlot(slot);
    const p = bind().slotPtr(this.live(), slot);
    if (p === null) throw new RingError("argument", `slot ${slot} has no address`);
    return p;
  }

  /**
   * Take a free slot, waiting up to timeoutMs for a reader to release one
   * (back-pressure). Runs on a worker thread, so the event loop keeps going.
   * Resolves to the slot index, or null when the timeout passed.
   */
  acquire(timeoutMs: number): Promise<number | null> {
    const h = this.live();
    if (!Number.isInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > 0xffffffff)
      return Promise.reject(new RingError("argument", `timeoutMs must be an integer >= 0, got ${timeoutMs}`));
    this.pendingAcquires++;
    return new Promise((resolve, reject) => {
      bind().acquire.async(h, timeoutMs, (err: unknown, rc: number) => {
        this.pendingAcquires--;
        if (this.closeRequested && this.pendingAcquires === 0) this.unmap();
        if (err) return reject(err);
        if (rc === -3) return resolve(null);
        try {
          resolve(check(rc, `acquire on ${this.path}`));
        } catch (e) {
          reject(e);
        }
      });
    });
  }

  /** Like acquire(0) but synchronous: a free slot now, or null. */
  tryAcquire(): number | null {
    const rc = bind().acquire(this.live(), 0);
    return rc === -3 ? null : check(rc, `acquire on ${this.path}`);
  }

  /** Copy data into an acquired slot (for producers that hold pixels in JS). */
  write(slot: number, data: Uint8Array): void {
    this.checkSlot(slot);
    check(bind().write(this.live(), slot, data, data.byteLength), `write slot ${slot} of ${this.path}`);
  }

  /** Publish an acquired slot as frame `seq` of `bytes` bytes. */
  commit(slot: number, seq: number, bytes: number): void {
    this.checkSlot(slot);
    checkSeq(seq);
    check(bind().commit(this.live(), slot, seq, bytes), `commit slot ${slot} seq ${seq} of ${this.path}`);
  }

  /**
   * Copy frame `seq` out of `slot` into `into`; returns its byte count.
   * Throws RingError "stale" if the slot does not hold that frame.
   */
  read(slot: number, seq: number, into: Uint8Array): number {
    this.checkSlot(slot);
    checkSeq(seq);
    return check(
      bind().read(this.live(), slot, seq, into, into.byteLength),
      `read slot ${slot} seq ${seq} of ${this.path}`,
    );
  }

  /**
   * Frame `seq` of `slot` as a Buffer over this process's mapping of the
   * slot: no copy. Throws RingError "stale" unless the slot is FULL with that
   * frame. The view is only valid while the slot holds the frame and the ring
   * is mapped: use it before release(slot, seq) and never after close(). A
   * release that then fails with "stale" means the slot changed under the view.
   */
  slotView(slot: number, seq: number): Buffer {
    checkSeq(seq);
    const info = this.slotInfo(slot);
    if (info.state !== "full" || info.seq !== seq) {
      throw new RingError("stale", `slot ${slot} of ${this.path} does not hold frame ${seq} (it is ${info.state} with frame ${info.seq})`);
    }
    let whole = this.slotViews[slot];
    if (!whole) {
      whole = Buffer.from(koffi.view(this.slotPointer(slot), this.slotBytes));
      this.slotViews[slot] = whole;
    }
    return whole.subarray(0, info.bytes);
  }

  /** Free the slot if it still holds frame `seq`; a stale release throws RingError "stale". */
  release(slot: number, seq: number): void {
    this.checkSlot(slot);
    checkSeq(seq);
    check(bind().release(this.live(), slot, seq), `release slot ${slot} seq ${seq} of ${this.path}`);
  }

  slotInfo(slot: number): SlotInfo {
    this.checkSlot(slot);
    const seq = new BigUint64Array(1);
    const bytes = new BigUint64Array(1);
    const st = check(bind().slotInfo(this.live(), slot, seq, bytes), `slot info ${slot} of ${this.path}`);
    return { state: STATES[st], seq: Number(seq[0]), bytes: Number(bytes[0]) };
  }

  stats(): RingStats {
    const free = new Uint32Array(1);
    const full = new Uint32Array(1);
    const n = new Uint32Array(1);
    const sb = new BigUint64Array(1);
    check(bind().stats(this.live(), free, full, n, sb), `stats of ${this.path}`);
    return { free: free[0], full: full[0], writing: n[0] - free[0] - full[0], numSlots: n[0], slotBytes: Number(sb[0]) };
  }

  /** Producer: free every slot (after an aborted acquisition or a restart). */
  reset(): void {
    check(bind().reset(this.live()), `reset ${this.path}`);
  }

  /**
   * Unmap the ring in this process (the file stays; see unlinkRing). If an
   * acquire is still waiting, the unmap happens when it returns.
   */
  close(): void {
    if (this.handle === null || this.closeRequested) return;
    this.closeRequested = true;
    if (this.pendingAcquires === 0) this.unmap();
  }

  private unmap(): void {
    this.slotViews.length = 0;
    if (this.handle === null) return;
    bind().close(this.handle);
    this.handle = null;
  }
}

export interface RingGeometry {
  /** Capacity of one slot (one frame), bytes. */
  slotBytes: number;
  numSlots: number;
}

/**
 * Where a system's ring lives by default: `/dev/shm/gently-ring-<key>` on
 * Linux, the named shared memory `Local\gently-ring-<key>` on Windows. The
 * key is the NATS port, so parallel systems on one machine never share one.
 */
export function defaultRingPath(key: string | number): string {
  return process.platform === "win32" ? `Local\\gently-ring-${key}` : `/dev/shm/gently-ring-${key}`;
}

/**
 * Create and map a ring at path: a file such as /dev/shm/gently-frames (an
 * old one is replaced), or on Windows a named mapping such as
 * Local\gently-ring-4222 (one still held by another process is reused if
 * its size matches, else refused).
 */
export function createRing(path: string, geometry: RingGeometry): Ring {
  const { slotBytes, numSlots } = geometry;
  if (!Number.isSafeInteger(slotBytes) || slotBytes <= 0 || !Number.isInteger(numSlots) || numSlots <= 0)
    throw new RingError("argument", `bad ring geometry: slotBytes=${slotBytes} numSlots=${numSlots}`);
  const err = Buffer.alloc(512);
  const h = bind().create(path, slotBytes, numSlots, err, err.length);
  if (h === null) throw new RingError("system", cString(err));
  return new Ring(h, path);
}

/** Map an existing ring (any process). */
export function openRing(path: string): Ring {
  const err = Buffer.alloc(512);
  const h = bind().open(path, err, err.length);
  if (h === null) throw new RingError("system", cString(err));
  return new Ring(h, path);
}

/** Remove the ring file; processes that mapped it keep their mapping. (On Windows a no-op: a named mapping goes with its last handle.) */
export function unlinkRing(path: string): void {
  if (bind().unlink(path) !== 0) throw new RingError("system", `cannot unlink ring ${path}`);
}
