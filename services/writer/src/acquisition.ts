import { access } from "node:fs/promises";
import path from "node:path";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { subscribeValidated, type Logger } from "@gently/bus";
import type { PlanePosition, SinkResult } from "@gently/ome-tiff";
import {
  AcquisitionEnd,
  FrameDescriptor,
  subjects,
  type AcquisitionBegin,
  type AcquisitionEnd as AcquisitionEndBody,
  type FrameDescriptor as FrameDescriptorBody,
} from "@gently/protocol";
import { RingError, type Ring } from "@gently/ring";
import type { Announcer } from "./announce";
import { failureOf, type Failure } from "./failure";
import { frameBytes } from "./frame-size";
import { quarantineFile } from "./quarantine";
import type { OpenedVolume } from "./volume-format";
import { volumeWrittenOf } from "./volume-meta";

export interface AcquisitionOptions {
  begin: AcquisitionBegin;
  opened: OpenedVolume;
  ring: Ring;
  announcer: Announcer;
  logger: Logger;
  quarantineDir: string;
  /** the storage root, for the storage-relative path in volume.written */
  storageDir: string;
  frameTimeoutMs: number;
  progressEveryFrames: number;
}

export type Outcome =
  | { kind: "written"; result: SinkResult }
  | { kind: "failed"; failure: Failure; quarantinedPath?: string };

type State = "writing" | "finalizing" | "written" | "failed";

/** A frame the writer holds in its ring slot: `view` is the slot's memory, valid until the slot is released. */
interface SlotFrame {
  slot: number;
  /** the frame's number in the ring: (slot, ring_seq) names it there */
  ring_seq: number;
  seq: number;
  view: Buffer;
  /** where the sheet was for this frame, as the descriptor reports it */
  position: PlanePosition;
}

/** Planes at most this far ahead of the one due wait in their slots (a slice's cameras in either order). */
const MAX_PLANES_AHEAD = 64;

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/**
 * One acquisition from begin to volume.written or volume.failed. Frames are
 * handled strictly in arrival order and written straight from their ring
 * slots: the sink gets a view of the mapped slot (no copy in this process)
 * and the slot is released once that plane's write returned, i.e. the plane
 * is in the page cache, on its way to the disk (the sink streams it there and
 * holds back new writes while too much is still on its way; durability comes
 * from the fsync at finalize). The writer thus holds at most the ring's slots
 * and a bounded stretch of page cache, and memory does not grow with the
 * volume; a slow disk slows the camera through the ring. Only a
 * complete, finalized file is announced as written.
 */
export class Acquisition {
  readonly begin: AcquisitionBegin;
  readonly expectedFrames: number;
  /** resolves with the outcome once it is on disk (or quarantined) and announced */
  readonly outcome: Promise<Outcome>;
  /** resolves once this acquisition no longer listens for its frames */
  readonly closed: Promise<void>;

  private state: State = "writing";
  /** descriptors taken, i.e. the seq the next one must have */
  private received = 0;
  /** index of the next plane the sink takes (z × cameras + c) */
  private nextPlane = 0;
  /** planes that arrived ahead of their turn, waiting in their slots */
  private readonly held = new Map<number, SlotFrame>();
  private readonly maxAhead: number;
  /** planes handed to the sink whose write has not settled yet (each holds its slot) */
  private writing = 0;
  private writesSettledWaiters: (() => void)[] = [];
  private queue: Promise<void> = Promise.resolve();
  private subs: Subscription[] = [];
  private readonly planeBytes: number;
  private readonly log: Logger;
  private readonly silence: NodeJS.Timeout;
  private readonly startedMs = Date.now();
  private settle!: (outcome: Outcome) => void;
  private markClosed!: () => void;

  constructor(private readonly opts: AcquisitionOptions) {
    this.begin = opts.begin;
    this.expectedFrames = opts.begin.num_slices * opts.begin.cameras.length;
    this.planeBytes = frameBytes(opts.begin);
    // A plane held ahead keeps its slot: at least one slot must stay for the plane it waits for.
    this.maxAhead = Math.min(MAX_PLANES_AHEAD, opts.ring.numSlots - 1);
    this.log = opts.logger.child({ acq_id: opts.begin.acq_id, volume_uid: opts.begin.volume_uid });
    this.outcome = new Promise((resolve) => (this.settle = resolve));
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
    this.silence = setTimeout(() => this.onSilence(), opts.frameTimeoutMs);
  }

  /** Subscribes to this acquisition's frames and end; call before replying ready. */
  listen(nc: NatsConnection): void {
    const acq = this.begin.acq_id;
    this.subs = [
      subscribeValidated(nc, subjects.frames.frame(acq), FrameDescriptor, (d) => this.enqueue(() => this.onFrame(d)), {
        logger: this.log,
      }),
      subscribeValidated(nc, subjects.frames.end(acq), AcquisitionEnd, (e) => this.enqueue(() => this.onEnd(e)), {
        logger: this.log,
      }),
    ];
  }

  /** Fails the volume now unless it is already finishing (the writer is stopping). */
  async abandon(failure: Failure): Promise<Outcome> {
    await this.fail(failure);
    this.close();
    // A volume already finalizing completes; its outcome is what it is.
    return this.outcome;
  }

  private enqueue(step: () => Promise<void>): void {
    this.silence.refresh();
    this.queue = this.queue.then(step).catch((err) => {
      this.log.error({ err }, "frame handling failed unexpectedly");
      return this.fail(failureOf(err, "handling a frame"));
    });
  }

  private async onFrame(d: FrameDescriptorBody): Promise<void> {
    if (this.state !== "writing") {
      // The volume is lost, but the hardware must not stall on a full ring.
      this.releaseQuietly(d);
      return;
    }
    const placed = this.placeOf(d);
    if (typeof placed === "string") {
      this.releaseQuietly(d);
      await this.fail({ code: "device_error", reason: placed });
      return;
    }
    let view: Buffer;
    try {
      view = this.opts.ring.slotView(d.slot, d.ring_seq);
    } catch (err) {
      this.releaseQuietly(d);
      await this.fail({ code: "device_error", reason: `frame ${d.seq} could not be read from slot ${d.slot}: ${(err as Error).message}` });
      return;
    }
    if (view.byteLength !== this.planeBytes) {
      this.releaseQuietly(d);
      await this.fail({ code: "device_error", reason: `frame ${d.seq} holds ${view.byteLength} bytes in the ring, expected ${this.planeBytes}` });
      return;
    }
    this.received++;
    const frame: SlotFrame = {
      slot: d.slot,
      ring_seq: d.ring_seq,
      seq: d.seq,
      view,
      position: { piezo_um: d.piezo_um, galvo_deg: d.galvo_deg, timestamp_us: d.timestamp_us },
    };
    if (placed !== this.nextPlane) {
      this.held.set(placed, frame);
    } else {
      this.append(frame);
      for (let next = this.held.get(this.nextPlane); next; next = this.held.get(this.nextPlane)) {
        this.held.delete(this.nextPlane);
        this.append(next);
      }
    }
    if (this.received % this.opts.progressEveryFrames === 0) {
      const s = (Date.now() - this.startedMs) / 1000;
      this.log.info(
        { frames: this.received, of: this.expectedFrames, mb_s: Math.round((this.received * this.planeBytes) / 1e6 / s) },
        "writing",
      );
    }
  }

  /** Hands the next plane to the sink, straight from its slot; the slot is released when the write settled. */
  private append(frame: SlotFrame): void {
    const plane = this.nextPlane++;
    this.writing++;
    this.opts.opened.sink.appendPlane(frame.view, frame.position).then(
      () => {
        this.silence.refresh();
        this.releaseWritten(frame, plane);
        this.writeSettled();
      },
      (err) => {
        this.releaseQuietly(frame);
        void this.fail(failureOf(err, `writing plane ${plane}`));
        this.writeSettled();
      },
    );
  }

  /**
   * Frees the slot of a written plane. The ring refuses the release when the
   * slot no longer holds that frame: it changed while the file was being
   * written from it, so that plane may be torn.
   */
  private releaseWritten(frame: SlotFrame, plane: number): void {
    try {
      this.opts.ring.release(frame.slot, frame.ring_seq);
    } catch (err) {
      if (err instanceof RingError && err.code === "stale") {
        void this.fail({ code: "device_error", reason: `slot ${frame.slot} stopped holding frame ${frame.seq} while plane ${plane} was written from it` });
      } else {
        this.log.warn({ slot: frame.slot, seq: frame.seq, err: (err as Error).message }, "could not release a ring slot");
      }
    }
  }

  private writeSettled(): void {
    if (--this.writing > 0) return;
    const waiters = this.writesSettledWaiters;
    this.writesSettledWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Resolves once every plane handed to the sink has settled (written, or failed the volume). */
  private writesSettled(): Promise<void> {
    if (this.writing === 0) return Promise.resolve();
    return new Promise((resolve) => this.writesSettledWaiters.push(resolve));
  }

  /**
   * The plane index (z × cameras + c) a descriptor fills, or why it fits
   * nowhere. Descriptors must come without gaps (seq); the cameras of a slice
   * may come in either order, at most maxAhead planes ahead (each waits in its slot).
   */
  private placeOf(d: FrameDescriptorBody): number | string {
    const b = this.begin;
    const cameras = b.cameras.length;
    if (d.seq !== this.received) {
      return d.seq > this.received
        ? `frame descriptors ${this.received}..${d.seq - 1} never arrived (got seq ${d.seq})`
        : `frame seq ${d.seq} arrived again or out of order (expected ${this.received})`;
    }
    if (d.seq >= this.expectedFrames) return `frame ${d.seq} is beyond the ${this.expectedFrames} frames announced at begin`;
    if (d.width !== b.width || d.height !== b.height || d.dtype !== b.dtype || d.bytes !== this.planeBytes) {
      return `frame ${d.seq} is ${d.width}×${d.height} ${d.dtype} (${d.bytes} bytes); begin said ${b.width}×${b.height} ${b.dtype}`;
    }
    if (d.camera_index >= cameras || b.cameras[d.camera_index] !== d.camera) {
      return `frame ${d.seq} is from ${d.camera} (#${d.camera_index}), not one of the cameras ${b.cameras.join(", ")} announced at begin`;
    }
    if (d.z_index >= b.num_slices) return `frame ${d.seq} is slice ${d.z_index} of a ${b.num_slices}-slice volume`;
    const plane = d.z_index * cameras + d.camera_index;
    const where = `slice ${d.z_index} of ${d.camera}`;
    if (plane < this.nextPlane || this.held.has(plane)) return `frame ${d.seq} is ${where} again`;
    const ahead = plane - this.nextPlane;
    if (ahead > this.maxAhead) {
      return `frame ${d.seq} (${where}) is ${ahead} planes ahead of the next one due; the writer holds at most ${this.maxAhead}`;
    }
    return plane;
  }

  /** Frees the slots of planes that can no longer be written in order. */
  private dropHeld(): void {
    for (const frame of this.held.values()) this.releaseQuietly(frame);
    this.held.clear();
  }

  private releaseQuietly(d: { slot: number; ring_seq: number; seq: number }): void {
    try {
      this.opts.ring.release(d.slot, d.ring_seq);
    } catch (err) {
      this.log.warn({ slot: d.slot, ring_seq: d.ring_seq, seq: d.seq, err: (err as Error).message }, "could not release a ring slot");
    }
  }

  private async onEnd(end: AcquisitionEndBody): Promise<void> {
    if (this.state !== "writing") {
      this.close();
      return;
    }
    // Planes still held lack a predecessor that can no longer come; checkEnd fails the volume.
    this.dropHeld();
    await this.writesSettled();
    if ((this.state as State) !== "writing") {
      this.close();
      return;
    }
    const problem = this.checkEnd(end);
    if (problem) {
      this.close();
      await this.fail(problem);
      return;
    }
    this.state = "finalizing";
    this.close();
    let result: SinkResult;
    try {
      result = await this.opts.opened.sink.finalize();
    } catch (err) {
      await this.fail(failureOf(err, "finalizing the file"), "finalizing");
      return;
    }
    this.state = "written";
    const s = (Date.now() - this.startedMs) / 1000;
    this.log.info(
      { path: result.path, bytes: result.bytes, frames: this.received, seconds: s, mb_s: Math.round(result.bytes / 1e6 / s) },
      "volume written",
    );
    try {
      await this.opts.announcer.written(volumeWrittenOf(this.begin, end, result, new Date(), this.opts.storageDir));
    } catch (err) {
      this.log.error({ err: String(err), path: result.path }, "volume is on disk but volume.written could not be published");
    }
    this.settle({ kind: "written", result });
  }

  private checkEnd(end: AcquisitionEndBody): Failure | null {
    if (end.volume_uid !== this.begin.volume_uid) {
      return { code: "device_error", reason: `end names volume ${end.volume_uid}, begin named ${this.begin.volume_uid}` };
    }
    if (end.status === "aborted") return { code: "aborted", reason: end.reason ?? "acquisition aborted" };
    if (end.status === "failed") return { code: "device_error", reason: end.reason ?? "acquisition failed" };
    if (end.dropped > 0) return { code: "device_error", reason: `${end.dropped} frames were dropped before reaching the ring` };
    if (end.frames !== this.expectedFrames) {
      return { code: "device_error", reason: `acquisition ended after ${end.frames} of ${this.expectedFrames} frames` };
    }
    if (this.received !== this.expectedFrames) {
      return { code: "device_error", reason: `received ${this.received} of ${end.frames} frames: descriptors were lost` };
    }
    return null;
  }

  private onSilence(): void {
    if (this.state === "writing") {
      void this.fail({ code: "timeout", reason: `no frame for ${this.opts.frameTimeoutMs} ms after frame ${this.received} of ${this.expectedFrames}` });
    } else if (this.state !== "finalizing") {
      // A failed volume stops draining its frames once the hardware has gone quiet.
      this.close();
    }
  }

  /** Stops listening for this acquisition's frames (idempotent). */
  private close(): void {
    for (const sub of this.subs) sub.unsubscribe();
    this.subs = [];
    clearTimeout(this.silence);
    this.markClosed();
  }

  /** Aborts, quarantines and announces volume.failed; only the first failure of a volume counts. */
  private async fail(failure: Failure, from: State = "writing"): Promise<void> {
    if (this.state !== from) return;
    this.state = "failed";
    // From now on the timer only ends the draining of frames the hardware still sends.
    if (this.subs.length > 0) this.silence.refresh();
    this.dropHeld();
    this.log.warn({ code: failure.code, reason: failure.reason, frames: this.received }, "volume failed");
    const { sink, tempPath, finalPath } = this.opts.opened;
    try {
      await sink.abort({ keep: true });
    } catch (err) {
      this.log.error({ err: String(err) }, "aborting the sink failed");
    }
    let quarantinedPath: string | undefined;
    // A finalize that failed after its rename (fsync of the directory) leaves the file at the final
    // path: it must not stay there. Before finalize the final path is never this volume's.
    const renamed = from === "finalizing" && !(await exists(tempPath)) && (await exists(finalPath));
    const partial = renamed ? finalPath : (await exists(tempPath)) ? tempPath : undefined;
    if (partial) {
      try {
        quarantinedPath = await quarantineFile(partial, this.opts.quarantineDir, path.basename(finalPath));
      } catch (err) {
        this.log.error({ err: String(err), partial }, "could not quarantine the partial file");
      }
    }
    const b = this.begin;
    try {
      await this.opts.announcer.failed({
        uid: b.volume_uid,
        session_id: b.session_id,
        ...(b.run_uid !== undefined ? { run_uid: b.run_uid } : {}),
        reason: failure.reason,
        code: failure.code,
        ...(quarantinedPath !== undefined ? { quarantined_path: quarantinedPath } : {}),
        failed: new Date().toISOString(),
      });
    } catch (err) {
      this.log.error({ err: String(err) }, "volume.failed could not be published");
    }
    this.settle({ kind: "failed", failure, ...(quarantinedPath !== undefined ? { quarantinedPath } : {}) });
  }
}
