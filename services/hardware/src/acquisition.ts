import type { Logger } from "@gently/bus";
import {
  GentlyError,
  type AcquisitionBegin,
  type AcquisitionEnd,
  type FrameDescriptor,
  type PreviewFrame,
  type SequenceRequest,
  type SnapRequest,
} from "@gently/protocol";
import type { FrameMeta } from "./core-binding";
import { checkSequence, refuseViolations } from "./limits";
import type { FrameShape, Microscope } from "./microscope";
import { pixelsOf, type PreviewPublisher } from "./preview";
import type { RingSlots, SlotOwner } from "./ring-slots";
import { Watchdog } from "./watchdog";
import type { WriterLink } from "./writer-link";

/** One wait on the camera; between waits a stop request is noticed. */
const POP_STEP_MS = 500;
/** How long before a volume's first frame its begin goes to the writer (continuous sequences). */
const BEGIN_AHEAD_MS = 1_000;
/**
 * A free-running camera's frame waits at least this long for a ring slot before it is dropped: a
 * camera's own memory holds a few frames, and a writer descheduled on a busy host for a moment
 * must not fail the run (the frame's late timestamp shows in the dead time).
 */
const MIN_SLOT_WAIT_MS = 100;

export interface AcquisitionDeps {
  microscope: Microscope;
  slots: RingSlots;
  writer: WriterLink;
  logger: Logger;
  /** how long a frame may be late beyond its exposure before the acquisition fails */
  frameTimeoutMs: number;
  /** reduced frames for people watching; none in benches */
  preview?: PreviewPublisher;
}

type EndStatus = AcquisitionEnd["status"];

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Shape common to all cameras of an acquisition, checked against the ring's slot size. */
function acquisitionShape(deps: AcquisitionDeps, cameras: readonly string[]): FrameShape {
  const shapes = cameras.map((c) => deps.microscope.frameShape(c));
  const first = shapes[0];
  for (const [i, s] of shapes.entries()) {
    if (s.width !== first.width || s.height !== first.height || s.dtype !== first.dtype) {
      throw new GentlyError(
        "invalid_request",
        `cameras of one acquisition must give frames of one shape: ${cameras[0]} gives ${first.width}x${first.height} ${first.dtype}, ${cameras[i]} gives ${s.width}x${s.height} ${s.dtype}`,
        "cameras",
      );
    }
    if (s.bytes > deps.slots.slotBytes) {
      throw new GentlyError("invalid_request", `a ${cameras[i]} frame (${s.bytes} bytes) does not fit a ring slot (${deps.slots.slotBytes} bytes)`, "cameras");
    }
  }
  return first;
}

function descriptor(
  acqId: string,
  seq: number,
  slot: number,
  ringSeq: number,
  zIndex: number,
  camera: string,
  cameraIndex: number,
  meta: FrameMeta,
  dtype: FrameShape["dtype"],
  volumeIndex?: number,
): FrameDescriptor {
  return {
    acq_id: acqId as FrameDescriptor["acq_id"],
    seq,
    slot,
    ring_seq: ringSeq,
    z_index: zIndex,
    ...(volumeIndex !== undefined ? { volume_index: volumeIndex } : {}),
    camera: camera as FrameDescriptor["camera"],
    camera_index: cameraIndex,
    width: meta.width,
    height: meta.height,
    dtype,
    bytes: meta.width * meta.height * meta.bytes_per_pixel,
    piezo_um: meta.piezo_um,
    galvo_deg: meta.galvo_deg,
    timestamp_us: meta.timestamp_us,
    // Microseconds, like the core's timestamp (Date.now() would round to the millisecond).
    published_us: Math.round((performance.timeOrigin + performance.now()) * 1000),
  };
}

/** How a request's sweep is run on this core; a request without a sweep has nothing to step. */
function sweepModeOf(req: SequenceRequest, microscope: Microscope): "hardware" | "stepped" {
  return req.sweep ? microscope.coreInfo.sweep_mode : "hardware";
}

/** The core's labels of the request's cameras, in the request's order. */
function cameraLabels(microscope: Microscope, req: SequenceRequest): string[] {
  return req.cameras.map((c) => microscope.camera(c).label);
}

/** The laser line powers, for the file's metadata (none on a microscope without power control). */
function laserPowerOf(microscope: Microscope): { laser_power_pct?: AcquisitionBegin["laser_power_pct"] } {
  const powers = microscope.laserPowers();
  return Object.keys(powers).length > 0 ? { laser_power_pct: powers } : {};
}

/** One volume of a sequence: its own acquisition towards the writer and its own file. */
interface VolumeIds {
  acq_id: SequenceRequest["acq_id"];
  volume_uid: SequenceRequest["volume_uid"];
}

/** The writer's begin for one volume of the request. */
function beginOf(req: SequenceRequest, deps: AcquisitionDeps, shape: FrameShape, sweepMode: "hardware" | "stepped", volume: VolumeIds): AcquisitionBegin {
  const { microscope } = deps;
  return {
    acq_id: volume.acq_id,
    volume_uid: volume.volume_uid,
    session_id: req.session_id,
    run_uid: req.run_uid,
    plan_name: req.plan_name,
    ring_path: deps.slots.ring.path,
    cameras: req.cameras,
    num_slices: req.num_slices,
    width: shape.width,
    height: shape.height,
    dtype: shape.dtype,
    pixel_size_um: shape.pixel_size_um,
    z_step_um: req.sweep?.piezo_step_um ?? 0,
    ...(req.sweep ? { sweep: req.sweep, sweep_mode: sweepMode } : {}),
    exposure_ms: req.exposure_ms,
    laser_config: req.laser_config,
    ...laserPowerOf(microscope),
    position: microscope.stagePosition(),
    started: new Date().toISOString(),
  };
}

/** Lasers off and sequence stopped, whatever happened; a failure here is logged loudly, never thrown over the first error. */
async function makeSafe(deps: AcquisitionDeps, stopSequence: boolean): Promise<void> {
  if (stopSequence) {
    try {
      deps.microscope.core.stopSequence();
    } catch (err) {
      deps.logger.error({ err: messageOf(err) }, "could not stop the sequence");
    }
  }
  try {
    await deps.microscope.lasersOff();
  } catch (err) {
    deps.logger.fatal({ err: messageOf(err) }, "could not switch the lasers off");
  }
}

/**
 * A running light-sheet sequence: the core writes each frame straight into a
 * ring slot, the slot is committed and its descriptor published; lasers go
 * "ALL OFF" and the sequence stops on every way out.
 *
 * Continuous (`next_volumes`): one camera sequence runs every volume back to
 * back (the sweep repeats). Each volume is its own acquisition towards the
 * writer: the next volume's begin is sent about a second before the current
 * one ends, so its file is open before its first frame, and a volume's end goes out with
 * its last frame. The camera is free-running then: a frame that finds no free
 * ring slot within a frame's time is dropped and the run fails, naming how
 * many frames were dropped (never a silent gap).
 */
export class Acquisition {
  /** frames published, all volumes together */
  framesDone = 0;
  dropped = 0;
  readonly framesTotal: number;
  readonly framesPerVolume: number;
  /**
   * resolves once every end was published, with the run's end: acq_id of the
   * request, the volume reached last, frames of all volumes together
   */
  readonly done: Promise<AcquisitionEnd>;
  /** "stepped": this acquisition sets piezo and galvo per slice itself (the core cannot sequence them) */
  readonly sweepMode: "hardware" | "stepped";
  private stopping: { status: EndStatus; reason: string } | null = null;
  private safe = false;
  private readonly watchdog: Watchdog;

  private readonly volumes: VolumeIds[];
  /** each volume's writer instance, once its begin was answered (volume 0's before the sequence started) */
  private readonly begins: Promise<string>[] = [];
  /** volumes whose end was published */
  private volumesEnded = 0;
  /** whose frames the current volume's slots hold */
  private owner: SlotOwner;
  /** frame buffer for frames dropped because the ring was full (continuous only) */
  private dropBuffer: Buffer | null = null;

  private constructor(
    readonly req: SequenceRequest,
    private readonly deps: AcquisitionDeps,
    private readonly shape: FrameShape,
    writerId: string,
  ) {
    this.volumes = [{ acq_id: req.acq_id, volume_uid: req.volume_uid }, ...(req.next_volumes ?? [])];
    this.owner = { acqId: req.acq_id, volumeUid: req.volume_uid, writerId };
    this.begins.push(Promise.resolve(writerId));
    this.sweepMode = sweepModeOf(req, deps.microscope);
    this.framesPerVolume = req.num_slices * req.cameras.length;
    this.framesTotal = this.framesPerVolume * this.volumes.length;
    this.beginNextWhenDue();
    this.watchdog = new Watchdog(req.keepalive_ms, (silentMs) => {
      void this.stop(`owner disappeared (no keepalive for ${silentMs} ms)`);
    });
    this.done = this.run();
  }

  /** Still driving the hardware: false once the sequence is stopped and the lasers are off (the end may still be on its way). */
  get active(): boolean {
    return !this.safe;
  }

  get acqId(): string {
    return this.req.acq_id;
  }

  get volumeUid(): string {
    return this.volumes[this.volumeIndex].volume_uid;
  }

  get continuous(): boolean {
    return this.volumes.length > 1;
  }

  /** The volume the next frame belongs to (the last one once all frames are in). */
  private get volumeIndex(): number {
    return Math.min(Math.floor(this.framesDone / this.framesPerVolume), this.volumes.length - 1);
  }

  /** Sends the begin of volume `index` (if there is one and it was not sent yet); its file opens while earlier volumes stream. */
  private beginAhead(index: number): void {
    if (index >= this.volumes.length || this.begins.length > index) return;
    const begin = this.deps.writer.begin(beginOf(this.req, this.deps, this.shape, this.sweepMode, this.volumes[index])).then((r) => r.writer_id);
    // awaited when the volume is reached; a run stopped before then only reports it
    begin.catch(() => undefined);
    this.begins.push(begin);
  }

  /**
   * Sends the next volume's begin once the current volume has about
   * BEGIN_AHEAD_MS of frames left: its file is open before its first frame,
   * yet the writer does not wait so long for that frame that it gives up on
   * the volume (its frame timeout) however long a volume takes.
   */
  private beginNextWhenDue(): void {
    const index = this.volumeIndex;
    const left = (index + 1) * this.framesPerVolume - this.framesDone;
    const ahead = Math.max(1, Math.ceil(BEGIN_AHEAD_MS / this.req.exposure_ms)) * this.req.cameras.length;
    if (left <= ahead) this.beginAhead(index + 1);
  }

  /** Before the first frame of a volume: its writer is ready (its begin was sent ahead, see beginNextWhenDue). */
  private async enterVolume(): Promise<void> {
    if (this.framesDone % this.framesPerVolume !== 0) return;
    const index = this.volumeIndex;
    if (index === 0) return;
    this.beginAhead(index);
    const writerId = await this.begins[index];
    this.owner = { acqId: this.volumes[index].acq_id, volumeUid: this.volumes[index].volume_uid, writerId };
    this.beginNextWhenDue();
  }

  /**
   * Checks limits and shapes, gets the writer's "ready", switches the lasers
   * on and starts the core's sequence. Refusals leave the hardware as it was
   * (lasers off); the frames then flow in the background until `done`.
   */
  static async start(req: SequenceRequest, deps: AcquisitionDeps): Promise<Acquisition> {
    const { microscope } = deps;
    refuseViolations(checkSequence(microscope.limits, req));
    microscope.refuseIfOutsideLimits(`sequence ${req.acq_id}`);
    const shape = acquisitionShape(deps, req.cameras);
    const sweepMode = sweepModeOf(req, microscope);
    const { writer_id } = await deps.writer.begin(beginOf(req, deps, shape, sweepMode, req));
    const volumes = 1 + (req.next_volumes?.length ?? 0);
    try {
      for (const camera of req.cameras) await microscope.core.setExposure(microscope.camera(camera).label, req.exposure_ms);
      await microscope.setLaser(req.laser_config);
      // A stepped sweep starts one short sequence per slice, once the sheet is there (pumpStepped).
      if (sweepMode === "hardware") {
        // Continuous: one sequence for every volume; the core repeats the sweep every num_slices frames.
        await microscope.core.startSequence(cameraLabels(microscope, req), req.num_slices * volumes, req.sweep ? { num_slices: req.num_slices, ...req.sweep } : undefined);
      }
    } catch (err) {
      await makeSafe(deps, false);
      await deps.writer.end({ acq_id: req.acq_id, volume_uid: req.volume_uid, status: "failed", frames: 0, dropped: 0, reason: messageOf(err) });
      throw err;
    }
    deps.logger.info(
      { acq_id: req.acq_id, frames: req.num_slices * req.cameras.length * volumes, volumes, cameras: req.cameras, sweep_mode: req.sweep ? sweepMode : "none" },
      "sequence started",
    );
    return new Acquisition(req, deps, shape, writer_id);
  }

  /** The owner is alive. */
  touch(): void {
    this.watchdog.touch();
  }

  /** Stops the sequence now (lasers off at once) and resolves when the end is published. */
  stop(reason: string, status: EndStatus = "aborted"): Promise<AcquisitionEnd> {
    if (!this.stopping) {
      this.stopping = { status, reason };
      this.deps.logger.warn({ acq_id: this.acqId, reason }, "stopping the sequence");
      // The sequence stops at once (synchronous); the lasers' preset call is on its way when this returns.
      void makeSafe(this.deps, true);
    }
    return this.done;
  }

  private async run(): Promise<AcquisitionEnd> {
    let failure: string | undefined;
    let finishedEarly = false;
    try {
      finishedEarly = await this.pump();
    } catch (err) {
      failure = messageOf(err);
      this.deps.logger.error({ acq_id: this.acqId, err: failure }, "acquisition failed");
    } finally {
      this.watchdog.stop();
      await makeSafe(this.deps, true);
      this.safe = true;
    }
    const end = this.endMessage(failure, finishedEarly);
    await this.endRemainingVolumes(end);
    this.deps.logger.info(end, "acquisition ended");
    return end;
  }

  /** The end of every volume not ended yet: the current one with the run's outcome, those begun ahead of it aborted. */
  private async endRemainingVolumes(run: AcquisitionEnd): Promise<void> {
    for (let index = this.volumesEnded; index < this.begins.length; index++) {
      const ids = this.volumes[index];
      const frames = Math.max(0, Math.min(this.framesPerVolume, this.framesDone - index * this.framesPerVolume));
      if (index === this.volumeIndex) {
        await this.deps.writer.end({ ...run, ...ids, frames: this.continuous ? frames : run.frames });
      } else {
        const why = run.reason ?? `the sequence ended ${run.status}`;
        await this.deps.writer.end({ ...ids, status: run.status === "complete" ? "failed" : run.status, frames, dropped: 0, reason: `the continuous sequence ended before this volume: ${why}` });
      }
    }
    this.volumesEnded = this.begins.length;
  }

  private endMessage(failure: string | undefined, finishedEarly: boolean): AcquisitionEnd {
    const base = { acq_id: this.req.acq_id, volume_uid: this.volumeUid as AcquisitionEnd["volume_uid"], frames: this.framesDone, dropped: this.dropped };
    if (this.stopping) return { ...base, status: this.stopping.status, reason: this.stopping.reason };
    if (failure !== undefined) return { ...base, status: "failed", reason: failure };
    if (finishedEarly && this.framesDone + this.dropped < this.framesTotal) {
      return { ...base, status: "failed", reason: `the core ended the sequence after ${this.framesDone} of ${this.framesTotal} frames` };
    }
    return { ...base, status: "complete" };
  }

  /** Moves frames from the core into the ring until all arrived; true if the core ended the sequence first. */
  private async pump(): Promise<boolean> {
    if (this.sweepMode === "stepped") return this.pumpStepped();
    const { slots } = this.deps;
    const stopped = () => this.stopping !== null;
    while (this.framesDone + this.dropped < this.framesTotal) {
      await this.enterVolume();
      const slot = this.continuous ? await this.slotOrDrop() : await slots.take(this.owner, stopped);
      if (slot === null) return false;
      const meta = await this.popInto(slot);
      if (meta === null) return !stopped();
      this.publish(slot, meta);
    }
    return false;
  }

  /**
   * A sweep on a core that cannot sequence piezo and galvo: per slice, set
   * both, wait for them, read them back, expose every camera once (one short
   * sequence, so two cameras expose together) and publish the frames with the
   * positions the devices reported. True if the core ended a slice early.
   */
  private async pumpStepped(): Promise<boolean> {
    const { slots, microscope } = this.deps;
    const sweep = this.req.sweep!;
    const stopped = () => this.stopping !== null;
    const labels = cameraLabels(microscope, this.req);
    for (let frame = 0; frame < this.req.num_slices * this.volumes.length; frame++) {
      const slice = frame % this.req.num_slices;
      if (stopped()) return false;
      await this.enterVolume();
      const at = await microscope.moveSheet(sweep.piezo_start_um + slice * sweep.piezo_step_um, sweep.galvo_start_deg + slice * sweep.galvo_step_deg);
      if (stopped()) return false;
      await microscope.core.startSequence(labels, 1);
      for (let c = 0; c < labels.length; c++) {
        const slot = await slots.take(this.owner, stopped);
        if (slot === null) return false;
        const meta = await this.popInto(slot);
        if (meta === null) return !stopped();
        this.publish(slot, { ...meta, piezo_um: at.piezo_um, galvo_deg: at.galvo_deg }, slice);
      }
    }
    return false;
  }

  /**
   * A ring slot for the next frame of a free-running (continuous) camera: the
   * ring holds frames while the writer catches up, but once no slot frees
   * within a frame's time (at least MIN_SLOT_WAIT_MS) the camera's next frame has nowhere to go. It is
   * taken off the camera and dropped, and the run fails with the count.
   */
  private async slotOrDrop(): Promise<number> {
    const { slots } = this.deps;
    const slot = await slots.takeWithin(this.owner, Math.max(this.req.exposure_ms, MIN_SLOT_WAIT_MS));
    if (slot !== null) return slot;
    this.dropBuffer ??= Buffer.allocUnsafe(slots.slotBytes);
    const result = await this.deps.microscope.core.popNext(this.dropBuffer, undefined, POP_STEP_MS);
    this.dropped += result.dropped + (result.status === "frame" ? 1 : 0);
    throw new GentlyError(
      "device_error",
      `the writer fell behind: all ${slots.ring.numSlots} ring slots held frames waiting to be written, so the camera's frames were dropped (${this.dropped} frames dropped in volume ${this.volumeIndex + 1} of ${this.volumes.length}); stopped`,
    );
  }

  /** Waits for the next frame into the slot; null when stopped or when the core has no more frames. A slot left without a frame (null or error) is kept for the next one. */
  private async popInto(slot: number): Promise<FrameMeta | null> {
    const { microscope, slots } = this.deps;
    const lateAfterMs = this.req.exposure_ms + this.deps.frameTimeoutMs;
    const since = Date.now();
    try {
      const pointer = slots.pointer(slot);
      for (;;) {
        const result = await microscope.core.popNext(pointer, slots.slotBytes, POP_STEP_MS);
        this.dropped += result.dropped;
        if (result.dropped > 0 && this.continuous) {
          throw new GentlyError("device_error", `the camera dropped ${this.dropped} frames (volume ${this.volumeIndex + 1} of ${this.volumes.length}); stopped`);
        }
        if (result.status === "frame") return result.meta;
        if (result.status === "finished" || this.stopping) {
          slots.keep(slot);
          return null;
        }
        const waited = Date.now() - since;
        if (waited > lateAfterMs) {
          throw new GentlyError("timeout", `no frame from the camera for ${waited} ms (exposure ${this.req.exposure_ms} ms)`);
        }
      }
    } catch (err) {
      slots.keep(slot);
      throw err;
    }
  }

  /** Commits the slot and announces the frame; zIndex defaults to the core's slice (hardware sweep or none). */
  private publish(slot: number, meta: FrameMeta, zIndex = this.req.sweep || this.continuous ? meta.seq % this.req.num_slices : meta.seq): void {
    const { microscope, slots, writer } = this.deps;
    const volume = this.volumeIndex;
    const ids = this.volumes[volume];
    const seq = this.framesDone - volume * this.framesPerVolume;
    const bytes = meta.width * meta.height * meta.bytes_per_pixel;
    const ringSeq = slots.commit(slot, bytes, this.owner);
    const camera = microscope.cameraByIndex(meta.camera_index).name;
    const channel = this.req.cameras.indexOf(camera as SequenceRequest["cameras"][number]);
    const frame = descriptor(ids.acq_id, seq, slot, ringSeq, zIndex, camera, Math.max(0, channel), meta, this.shape.dtype, this.continuous ? volume : undefined);
    writer.frame(frame);
    this.framesDone++;
    if (this.continuous) {
      if (seq + 1 === this.framesPerVolume) {
        // The volume's last frame: the writer may finish its file while the camera goes on.
        this.volumesEnded = volume + 1;
        void writer.end({ ...ids, status: "complete", frames: this.framesPerVolume, dropped: 0 });
      }
      this.beginNextWhenDue();
    }
    // Only with a quarter of the ring free: when the writer falls behind, previews go first.
    if (slots.free() * 4 >= slots.ring.numSlots) offerPreview(this.deps, frame, slot, ringSeq, meta, "sequence", this.req.run_uid, this.req.exposure_ms, this.shape.pixel_size_um);
  }
}

/**
 * Publishes a preview of a committed frame if one is due for its camera.
 * Runs after the descriptor went out, on the slot as the writer sees it
 * (the producer cannot reuse the slot before this returns); a slot already
 * reused or released is simply not previewed.
 */
function offerPreview(
  deps: AcquisitionDeps,
  frame: FrameDescriptor,
  slot: number,
  ringSeq: number,
  meta: FrameMeta,
  source: "sequence" | "snap",
  runUid: PreviewFrame["run_uid"],
  exposureMs: number,
  pixelSizeUm: number,
): void {
  const { preview, slots } = deps;
  if (!preview?.wants(frame.camera)) return;
  let view: Buffer;
  try {
    view = slots.ring.slotView(slot, ringSeq);
  } catch {
    return;
  }
  preview.publish(pixelsOf(view, meta.width, meta.height, meta.bytes_per_pixel), {
    camera: frame.camera,
    source,
    acq_id: frame.acq_id,
    run_uid: runUid,
    seq: frame.seq,
    z_index: frame.z_index,
    frame_width: meta.width,
    frame_height: meta.height,
    frame_pixel_size_um: pixelSizeUm,
    exposure_ms: exposureMs,
    piezo_um: meta.piezo_um,
    galvo_deg: meta.galvo_deg,
    timestamp_us: meta.timestamp_us,
  });
}

/**
 * One frame on the same path as a sequence: writer begin, the core snaps
 * straight into a ring slot, descriptor, end. Lasers are "ALL OFF" after.
 */
export async function snapFrame(req: SnapRequest, deps: AcquisitionDeps): Promise<{ frame: FrameDescriptor }> {
  const { microscope, slots, writer } = deps;
  const camera = req.camera;
  microscope.refuseIfOutsideLimits(`snap ${req.acq_id}`);
  if (req.exposure_ms !== undefined) await microscope.setCamera(camera, req.exposure_ms, undefined);
  const shape = acquisitionShape(deps, [camera]);
  const ends = { acq_id: req.acq_id, volume_uid: req.volume_uid };
  const { writer_id } = await writer.begin({
    acq_id: req.acq_id,
    volume_uid: req.volume_uid,
    session_id: req.session_id,
    run_uid: req.run_uid,
    plan_name: req.plan_name,
    ring_path: slots.ring.path,
    cameras: [camera],
    num_slices: 1,
    width: shape.width,
    height: shape.height,
    dtype: shape.dtype,
    pixel_size_um: shape.pixel_size_um,
    z_step_um: 0,
    exposure_ms: shape.exposure_ms,
    laser_config: req.laser_config,
    position: microscope.stagePosition(),
    started: new Date().toISOString(),
  });
  let slot: number | null = null;
  try {
    if (req.led) await microscope.setLed(req.led);
    if (req.laser_config) await microscope.setLaser(req.laser_config);
    const owner = { acqId: req.acq_id, volumeUid: req.volume_uid, writerId: writer_id };
    const taken = await slots.take(owner, () => false);
    if (taken === null) throw new GentlyError("internal", "no ring slot for the snap");
    slot = taken;
    const meta = await microscope.core.snap(microscope.camera(camera).label, slots.pointer(taken), slots.slotBytes);
    const frameSlot = taken;
    slot = null;
    const ringSeq = slots.commit(frameSlot, meta.width * meta.height * meta.bytes_per_pixel, owner);
    const frame = descriptor(req.acq_id, 0, frameSlot, ringSeq, 0, camera, 0, meta, shape.dtype);
    writer.frame(frame);
    offerPreview(deps, frame, frameSlot, ringSeq, meta, "snap", req.run_uid, shape.exposure_ms, shape.pixel_size_um);
    await makeSafe(deps, false);
    await writer.end({ ...ends, status: "complete", frames: 1, dropped: 0 });
    return { frame };
  } catch (err) {
    if (slot !== null) slots.keep(slot);
    await makeSafe(deps, false);
    await writer.end({ ...ends, status: "failed", frames: 0, dropped: 0, reason: messageOf(err) });
    throw err;
  }
}
