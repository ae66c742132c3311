import { GentlyError } from "@gently/protocol";
import type { Ring } from "@gently/ring";

/** How long one wait for a free slot lasts before the caller's stop flag is looked at again. */
const WAIT_STEP_MS = 250;

/**
 * The producer's side of the ring. A slot taken but not filled (the camera
 * failed, the acquisition was stopped) stays with the producer and is the
 * first one used next time: the ring has no way to hand a WRITING slot
 * back, and resetting the ring would free slots a writer is still reading.
 */
export class RingSlots {
  private spare: number | null = null;

  constructor(
    readonly ring: Ring,
    /** how long to wait for a reader to free a slot before giving up */
    readonly timeoutMs: number,
  ) {}

  /** A free slot, waiting for readers (back-pressure); null when stopped while waiting. */
  async take(stopped: () => boolean): Promise<number | null> {
    if (this.spare !== null) {
      const slot = this.spare;
      this.spare = null;
      return slot;
    }
    // fast path: a free slot is taken without a trip to koffi's worker thread
    const free = this.ring.tryAcquire();
    if (free !== null) return free;
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      if (stopped()) return null;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new GentlyError(
          "timeout",
          `no free ring slot within ${this.timeoutMs} ms: all ${this.ring.numSlots} slots of ${this.ring.path} are waiting for a reader (is the writer running?)`,
        );
      }
      const slot = await this.ring.acquire(Math.min(WAIT_STEP_MS, left));
      if (slot !== null) return slot;
    }
  }

  /** Keeps a slot that was taken but not committed for the next frame. */
  keep(slot: number): void {
    this.spare = slot;
  }

  pointer(slot: number): bigint {
    return this.ring.slotPointer(slot);
  }

  commit(slot: number, seq: number, bytes: number): void {
    this.ring.commit(slot, seq, bytes);
  }

  get slotBytes(): number {
    return this.ring.slotBytes;
  }

  /** Free slots, counting the one the producer keeps. */
  free(): number {
    return this.ring.stats().free + (this.spare !== null ? 1 : 0);
  }
}
