import type { NatsConnection } from "@nats-io/transport-node";
import type { Service } from "@nats-io/services";
import { handle, startMicroService, type Logger } from "@gently/bus";
import { GentlyError, hw, type DeviceActivity, type HwState, type LiveRequest, type SnapRequest } from "@gently/protocol";
import { Acquisition, snapFrame, type AcquisitionDeps } from "./acquisition";
import { DeviceStatePublisher } from "./device-state";
import { LiveView } from "./live-view";
import { PreviewPublisher } from "./preview";
import type { LeaseHolder } from "./lease";
import type { Microscope } from "./microscope";
import type { RingSlots } from "./ring-slots";
import type { WriterLink } from "./writer-link";

/** After a halt with a driver, keep answering its teardown until it has been quiet this long ... */
const TEARDOWN_QUIET_MS = 500;
/** ... but no longer than this. */
const TEARDOWN_GRACE_MS = 3_000;

export interface HardwareServiceOptions {
  nc: NatsConnection;
  logger: Logger;
  version: string;
  microscope: Microscope;
  slots: RingSlots;
  writer: WriterLink;
  owner: LeaseHolder;
  frameTimeoutMs: number;
}

/**
 * The gently.hw.* endpoints over one microscope. While a sequence or a snap
 * is under way every request that would change the hardware is refused with
 * `conflict`; state and keepalive always answer.
 */
export class HardwareService {
  private acquisition: Acquisition | null = null;
  /** the last acquisition that ended: a late keepalive for it is still answered */
  private finished: { acqId: string; framesDone: number } | null = null;
  /** a snap or a sequence start in progress (before an Acquisition exists) */
  private busyWith: string | null = null;
  private stopping = false;
  /** when the last request that a driver's teardown sends arrived (state, preset, sequence stop, keepalive) */
  private lastRequestMs = 0;
  /** a snap whose frame is still being exposed: the core must outlive it */
  private snapping: Promise<unknown> | null = null;
  private snapRequest: SnapRequest | null = null;
  private live: LiveView | null = null;
  private service: Service | null = null;
  private readonly deps: AcquisitionDeps;
  private readonly preview: PreviewPublisher;
  private readonly deviceState: DeviceStatePublisher;

  constructor(private readonly opts: HardwareServiceOptions) {
    this.preview = new PreviewPublisher(opts.nc, opts.logger);
    this.deps = {
      microscope: opts.microscope,
      slots: opts.slots,
      writer: opts.writer,
      logger: opts.logger,
      frameTimeoutMs: opts.frameTimeoutMs,
      preview: this.preview,
    };
    this.deviceState = new DeviceStatePublisher(opts.nc, opts.microscope, () => this.activity(), opts.logger);
  }

  async start(): Promise<void> {
    this.service = await startMicroService(this.opts.nc, {
      name: "hardware",
      version: this.opts.version,
      description: "sole owner of the microscope core: stage, sheet, lasers, cameras, frame ring",
      logger: this.opts.logger,
      metadata: { core: this.opts.microscope.core.libraryPath, instance: this.opts.owner.instance },
      handlers: [
        handle(hw.state, () => {
          this.lastRequestMs = Date.now();
          return this.state();
        }),
        handle(hw.move, (req) => this.exclusive("move", () => this.opts.microscope.move(req))),
        handle(hw.setPreset, (req) => {
          this.lastRequestMs = Date.now();
          // the safe direction is answered even while stopping: a driver's teardown confirms the lasers are off
          if (this.stopping && req.group === "Laser" && req.preset === "ALL OFF") return this.lasersOffWhileStopping();
          return this.exclusive("preset", () => (req.group === "Laser" ? this.opts.microscope.setLaser(req.preset) : this.opts.microscope.setLed(req.preset)));
        }),
        handle(hw.setCamera, (req) => this.exclusive("camera", () => this.opts.microscope.setCamera(req.camera, req.exposure_ms, req.roi))),
        handle(hw.laserPower, async (req) => {
          let powers_pct: HwState["laser_power_pct"] = {};
          await this.exclusive("laser power", async () => {
            powers_pct = await this.opts.microscope.setLaserPowers(req.powers_pct);
          });
          return { powers_pct };
        }),
        handle(hw.snap, (req) => this.snap(req)),
        handle(hw.startLive, (req) => this.startLive(req)),
        handle(hw.startSequence, async (req) => {
          this.refuseIfBusy("sequence start");
          this.busyWith = `starting sequence ${req.acq_id}`;
          try {
            const acquisition = await Acquisition.start(req, this.deps);
            this.track(acquisition);
            this.deviceState.publishNow();
            return { acq_id: req.acq_id, volume_uid: req.volume_uid, frames_total: acquisition.framesTotal };
          } finally {
            this.busyWith = null;
          }
        }),
        handle(hw.stopSequence, async (req) => {
          this.lastRequestMs = Date.now();
          const live = this.live;
          if (live?.active && (req.acq_id === undefined || req.acq_id === live.acqId)) {
            await live.stop(req.reason);
            return { stopped: true, acq_id: live.req.acq_id };
          }
          const current = this.acquisition;
          if (!current || (req.acq_id !== undefined && req.acq_id !== current.acqId)) return { stopped: false };
          await current.stop(req.reason);
          return { stopped: true, acq_id: current.req.acq_id };
        }),
        handle(hw.keepalive, (req) => {
          this.lastRequestMs = Date.now();
          const current = this.acquisition;
          if (current && current.acqId === req.acq_id) {
            current.touch();
            return { ok: true as const, frames_done: current.framesDone };
          }
          if (this.live?.active && this.live.acqId === req.acq_id) {
            this.live.touch();
            return { ok: true as const, frames_done: this.live.framesDone };
          }
          if (this.finished?.acqId === req.acq_id) return { ok: true as const, frames_done: this.finished.framesDone };
          throw new GentlyError("not_found", `no acquisition ${req.acq_id} is running`, "acq_id");
        }),
      ],
    });
    this.deviceState.start();
  }

  /** What the cameras are doing, for gently.device.state. */
  private activity(): DeviceActivity | null {
    const a = this.running;
    if (a) {
      const { req } = a;
      return { kind: "sequence", acq_id: req.acq_id, run_uid: req.run_uid, plan_name: req.plan_name, cameras: req.cameras, frames_done: a.framesDone, frames_total: a.framesTotal };
    }
    const live = this.live?.active ? this.live : null;
    if (live) {
      const { req } = live;
      return { kind: "live", acq_id: req.acq_id, run_uid: req.run_uid, plan_name: req.plan_name, cameras: [req.camera], frames_done: live.framesDone, frames_total: 0 };
    }
    const snap = this.snapRequest;
    if (snap) return { kind: "snap", acq_id: snap.acq_id, run_uid: snap.run_uid, plan_name: snap.plan_name, cameras: [snap.camera], frames_done: 0, frames_total: 1 };
    return null;
  }

  private async startLive(req: LiveRequest) {
    this.refuseIfBusy("live view");
    // busy while camera, LED and lasers are set (calls on the core's workers)
    this.busyWith = `starting live view ${req.acq_id}`;
    let live: LiveView;
    try {
      live = await LiveView.start(req, { microscope: this.opts.microscope, preview: this.preview, logger: this.opts.logger });
    } finally {
      this.busyWith = null;
    }
    this.live = live;
    this.deviceState.publishNow();
    void live.done.then(() => {
      this.finished = { acqId: live.acqId, framesDone: live.framesDone };
      this.deviceState.publishNow();
    });
    return { acq_id: req.acq_id };
  }

  /** The acquisition still driving the hardware, if any. */
  private get running(): Acquisition | null {
    return this.acquisition?.active ? this.acquisition : null;
  }

  state(): HwState {
    const { microscope, slots, owner } = this.opts;
    const a = this.running;
    return {
      core: microscope.core.libraryPath,
      core_info: microscope.coreInfo,
      laser_power_pct: microscope.laserPowers(),
      position: microscope.position(),
      laser: microscope.laser(),
      led: microscope.led(),
      cameras: microscope.cameraStates(),
      limits: microscope.limits,
      acquisition: a
        ? { acq_id: a.req.acq_id, volume_uid: a.req.volume_uid, frames_done: a.framesDone, frames_total: a.framesTotal, sweep_mode: a.sweepMode }
        : null,
      ring: { path: slots.ring.path, slots: slots.ring.numSlots, slot_bytes: slots.slotBytes, free: slots.free() },
      owner,
    };
  }

  private refuseIfBusy(what: string): void {
    if (this.stopping) throw new GentlyError("conflict", `refused ${what}: the hardware service is stopping`);
    const a = this.running;
    if (a) {
      throw new GentlyError(
        "conflict",
        `refused ${what}: sequence ${a.acqId} is running (${a.framesDone}/${a.framesTotal} frames); stop it first`,
        undefined,
        { acq_id: a.acqId },
      );
    }
    if (this.busyWith) throw new GentlyError("conflict", `refused ${what}: ${this.busyWith} is in progress`);
    if (this.live?.active) {
      throw new GentlyError("conflict", `refused ${what}: live view ${this.live.acqId} is running; stop it first`, undefined, { acq_id: this.live.acqId });
    }
  }

  /** Runs a hardware-changing request when nothing else is, and answers with the state after it. */
  private async exclusive(what: string, change: () => Promise<void>): Promise<HwState> {
    this.refuseIfBusy(what);
    // Busy while the device works (a stage move can take seconds): a second request is refused, not queued.
    this.busyWith = what;
    try {
      await change();
    } finally {
      this.busyWith = null;
    }
    this.deviceState.publishNow();
    return this.state();
  }

  private async snap(req: SnapRequest) {
    this.refuseIfBusy("snap");
    this.busyWith = `snap ${req.acq_id}`;
    this.snapRequest = req;
    const snapping = snapFrame(req, this.deps);
    this.snapping = snapping;
    try {
      const { frame } = await snapping;
      return { frame, position: this.opts.microscope.stagePosition() };
    } finally {
      this.busyWith = null;
      this.snapping = null;
      this.snapRequest = null;
      this.deviceState.publishNow();
    }
  }

  private track(acquisition: Acquisition): void {
    this.acquisition = acquisition;
    void acquisition.done.then((end) => {
      this.finished = { acqId: end.acq_id, framesDone: end.frames };
      if (this.acquisition === acquisition) this.acquisition = null;
      this.deviceState.publishNow();
    });
  }

  /** Laser "ALL OFF" after halt: the lasers are off already; say so with the state. */
  private async lasersOffWhileStopping(): Promise<HwState> {
    await this.opts.microscope.lasersOff();
    return this.state();
  }

  /**
   * A Ctrl-C signals the plan runner and the hardware at once: the run's
   * teardown asks for lasers "ALL OFF" right after the hardware halted. Keep
   * answering until its requests have stopped for a moment (at most
   * TEARDOWN_GRACE_MS), so the run records the lasers as confirmed off
   * instead of a false alarm.
   */
  private async answerTeardown(): Promise<void> {
    const until = Date.now() + TEARDOWN_GRACE_MS;
    this.lastRequestMs = Math.max(this.lastRequestMs, Date.now());
    while (Date.now() < until && Date.now() - this.lastRequestMs < TEARDOWN_QUIET_MS) await new Promise((r) => setTimeout(r, 50));
  }

  /**
   * Stops everything that could harm a sample: the running sequence (its
   * end is published), lasers "ALL OFF". Used on SIGTERM and when the lease
   * is lost; no new requests are taken after it.
   */
  async halt(reason: string): Promise<void> {
    this.stopping = true;
    const current = this.acquisition;
    if (current) await current.stop(reason);
    if (this.live) await this.live.stop(reason);
    await this.snapping?.catch(() => undefined);
    try {
      await this.opts.microscope.lasersOff();
    } catch (err) {
      this.opts.logger.fatal({ err: String(err) }, "could not switch the lasers off while halting");
    }
  }

  async stop(reason = "hardware service stopping"): Promise<void> {
    const wasDriven = this.running !== null || this.live?.active === true || this.snapping !== null;
    await this.halt(reason);
    if (wasDriven) await this.answerTeardown();
    this.deviceState.stop();
    await this.service?.stop().catch(() => undefined);
    this.service = null;
  }
}
