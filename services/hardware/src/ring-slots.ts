import type { Logger } from "@gently/bus";
import { GentlyError } from "@gently/protocol";
import type { Ring } from "@gently/ring";

/** How long one wait for a free slot lasts before the caller's stop flag is looked at again. */
const WAIT_STEP_MS = 250;
/** While waiting for a slot, how often abandoned slots are looked for again. */
const RECLAIM_EVERY_MS = 1_000;

/** Which acquisition (and volume) a committed frame belongs to, and which writer instance took that acquisition. */
export interface SlotOwner {
  acqId: string;
  volumeUid: string;
  writerId: string;
}

/** Volumes remembered as settled; only the last few acquisitions can still hold slots. */
const SETTLED_REMEMBERED = 256;

export interface RingSlotsOptions {
  /** how long to wait for a reader to free a slot before giving up */
  timeoutMs: number;
  /** whether a writer instance still runs (WriterLink.answers) */
  writerAnswers: (writerId: string) => Promise<boolean>;
  logger: Logger;
}

/**
 * The producer's side of the ring. A slot taken but not filled (the camera
 * failed, the acquisition was stopped) stays with the producer and is the
 * first one used next time: the ring has no way to hand a WRITING slot
 * back, and resetting the ring would free slots a writer is still reading.
 *
 * Slots can be left FULL with nobody to release them: a writer killed
 * mid-volume, or descriptors lost while NATS was down (the writer never
 * learnt those frames' slots). So when no slot is free, slots still holding
 * frames of an earlier acquisition are freed if
 * - the writer announced that acquisition's volume written or failed: it
 *   reads none of its slots any more (and a late release of one of its
 *   frames names a ring_seq no later frame has), or
 * - the writer that took it has been replaced: the current acquisition went
 *   to another writer instance and that one's `$SRV.PING` finds nobody (both
 *   must hold: a writer only cut off from NATS for a moment is still writing
 *   from its slots).
 */
export class RingSlots {
  private spare: number | null = null;
  /** owner of each committed slot's latest frame, by slot */
  private readonly owners = new Map<number, SlotOwner & { ringSeq: number }>();
  /** the next frame's number in the ring; a restarted service creates a new ring */
  private nextRingSeq = 0;
  /** writer instances found gone (ids are never reused) */
  private readonly goneWriters = new Set<string>();
  /** volumes whose outcome the writer announced, oldest first */
  private readonly settledVolumes = new Set<string>();

  constructor(
    readonly ring: Ring,
    private readonly opts: RingSlotsOptions,
  ) {}

  /** A free slot for a frame of `current`, waiting for readers (back-pressure); null when stopped while waiting. */
  async take(current: SlotOwner, stopped: () => boolean): Promise<number | null> {
    if (this.spare !== null) {
      const slot = this.spare;
      this.spare = null;
      return slot;
    }
    // fast path: a free slot is taken without a trip to koffi's worker thread
    const free = this.ring.tryAcquire();
    if (free !== null) return free;
    const deadline = Date.now() + this.opts.timeoutMs;
    let nextReclaim = 0;
    for (;;) {
      if (stopped()) return null;
      if (Date.now() >= nextReclaim) {
        await this.reclaimAbandoned(current);
        nextReclaim = Date.now() + RECLAIM_EVERY_MS;
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new GentlyError(
          "timeout",
          `no free ring slot within ${this.opts.timeoutMs} ms: all ${this.ring.numSlots} slots of ${this.ring.path} are waiting for a reader (is the writer running?)`,
        );
      }
      const slot = await this.ring.acquire(Math.min(WAIT_STEP_MS, left));
      if (slot !== null) return slot;
    }
  }

  /**
   * A free slot within `waitMs`, else null: a free-running camera cannot wait
   * for the writer longer than its next frame. Before giving up, slots nobody
   * will release are reclaimed once (see take).
   */
  async takeWithin(current: SlotOwner, waitMs: number): Promise<number | null> {
    if (this.spare !== null) {
      const slot = this.spare;
      this.spare = null;
      return slot;
    }
    const free = this.ring.tryAcquire() ?? (await this.ring.acquire(waitMs));
    if (free !== null) return free;
    await this.reclaimAbandoned(current);
    return this.ring.tryAcquire();
  }

  /** Keeps a slot that was taken but not committed for the next frame. */
  keep(slot: number): void {
    this.spare = slot;
  }

  pointer(slot: number): bigint {
    return this.ring.slotPointer(slot);
  }

  /** Commits the frame in `slot` and returns its ring_seq (unique over this ring's life). */
  commit(slot: number, bytes: number, owner: SlotOwner): number {
    const ringSeq = this.nextRingSeq++;
    this.ring.commit(slot, ringSeq, bytes);
    this.owners.set(slot, { ...owner, ringSeq });
    return ringSeq;
  }

  get slotBytes(): number {
    return this.ring.slotBytes;
  }

  /** The writer announced volume `uid` written or failed (gently.volume.*). */
  volumeSettled(uid: string): void {
    this.settledVolumes.add(uid);
    if (this.settledVolumes.size > SETTLED_REMEMBERED) this.settledVolumes.delete(this.settledVolumes.values().next().value!);
  }

  /** Free slots, counting the one the producer keeps. */
  free(): number {
    return this.ring.stats().free + (this.spare !== null ? 1 : 0);
  }

  /** Frees the FULL slots of earlier acquisitions that no writer will release (see the class comment). */
  private async reclaimAbandoned(current: SlotOwner): Promise<void> {
    const abandoned: { slot: number; owner: SlotOwner & { ringSeq: number }; reason: string }[] = [];
    const alive = new Set<string>(); // writers that answered in this round: asked once each
    for (const [slot, owner] of this.owners) {
      if (owner.acqId === current.acqId) continue;
      const info = this.ring.slotInfo(slot);
      if (info.state !== "full" || info.seq !== owner.ringSeq) continue;
      if (this.settledVolumes.has(owner.volumeUid)) abandoned.push({ slot, owner, reason: "its volume was announced" });
      else if (owner.writerId !== current.writerId && !alive.has(owner.writerId)) {
        if (await this.writerGone(owner.writerId)) abandoned.push({ slot, owner, reason: "its writer is gone" });
        else alive.add(owner.writerId);
      }
    }
    for (const { slot, owner, reason } of abandoned) {
      this.owners.delete(slot);
      try {
        this.ring.release(slot, owner.ringSeq);
      } catch {
        continue; // released meanwhile (the ring checks the seq): nothing to reclaim
      }
      this.opts.logger.warn({ slot, acq_id: owner.acqId, volume_uid: owner.volumeUid, writer_id: owner.writerId, reason }, "freed a ring slot nobody will release");
    }
  }

  private async writerGone(writerId: string): Promise<boolean> {
    if (this.goneWriters.has(writerId)) return true;
    if (await this.opts.writerAnswers(writerId)) return false;
    this.goneWriters.add(writerId);
    return true;
  }
}
