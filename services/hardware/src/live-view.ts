import type { Logger } from "@gently/bus";
import { PREVIEW_MAX_PER_S, type LiveRequest } from "@gently/protocol";
import type { Microscope } from "./microscope";
import { pixelsOf, type PreviewPublisher } from "./preview";
import { Watchdog } from "./watchdog";

export interface LiveViewDeps {
  microscope: Microscope;
  preview: PreviewPublisher;
  logger: Logger;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Live view: one camera snaps into a private buffer (no ring slot, no file)
 * as often as previews are shown, each frame published as a preview, until
 * stopped, its owner goes silent or max_duration_s has passed. Lasers go
 * "ALL OFF" on every way out.
 */
export class LiveView {
  framesDone = 0;
  /** resolves with why it ended */
  readonly done: Promise<string>;
  private stopReason: string | null = null;
  private wake: (() => void) | null = null;
  private ended = false;
  private readonly watchdog: Watchdog;

  private constructor(
    readonly req: LiveRequest,
    private readonly deps: LiveViewDeps,
  ) {
    this.watchdog = new Watchdog(req.keepalive_ms, (silentMs) => void this.stop(`owner disappeared (no keepalive for ${silentMs} ms)`));
    this.done = this.run();
  }

  /** Sets exposure, LED and lasers (limits checked by the microscope) and starts streaming. */
  static async start(req: LiveRequest, deps: LiveViewDeps): Promise<LiveView> {
    const { microscope } = deps;
    try {
      await microscope.setCamera(req.camera, req.exposure_ms, undefined);
      await microscope.setLed(req.led);
      await microscope.setLaser(req.laser_config);
    } catch (err) {
      await microscope.lasersOff();
      throw err;
    }
    deps.logger.info({ acq_id: req.acq_id, camera: req.camera, exposure_ms: req.exposure_ms, laser: req.laser_config }, "live view started");
    return new LiveView(req, deps);
  }

  get acqId(): string {
    return this.req.acq_id;
  }

  /** Still driving the camera and lasers. */
  get active(): boolean {
    return !this.ended;
  }

  touch(): void {
    this.watchdog.touch();
  }

  /** Ends the stream (the frame being exposed completes) and resolves once the lasers are off. */
  stop(reason: string): Promise<string> {
    this.stopReason ??= reason;
    this.wake?.();
    return this.done;
  }

  private async run(): Promise<string> {
    const { microscope, preview, logger } = this.deps;
    const { camera } = this.req;
    const deadline = performance.now() + this.req.max_duration_s * 1000;
    const periodMs = 1000 / PREVIEW_MAX_PER_S;
    let reason = `ran its maximum of ${this.req.max_duration_s} s`;
    try {
      const shape = microscope.frameShape(camera);
      const buffer = Buffer.alloc(shape.bytes);
      while (this.stopReason === null && performance.now() < deadline) {
        const started = performance.now();
        const meta = await microscope.core.snap(microscope.camera(camera).label, buffer, buffer.length);
        const position = microscope.stagePosition();
        preview.publish(pixelsOf(buffer, meta.width, meta.height, meta.bytes_per_pixel), {
          camera,
          source: "live",
          acq_id: this.req.acq_id,
          run_uid: this.req.run_uid,
          seq: this.framesDone,
          z_index: 0,
          frame_width: meta.width,
          frame_height: meta.height,
          frame_pixel_size_um: shape.pixel_size_um,
          exposure_ms: this.req.exposure_ms,
          piezo_um: position.piezo_um ?? meta.piezo_um,
          galvo_deg: position.galvo_deg ?? meta.galvo_deg,
          timestamp_us: meta.timestamp_us,
        });
        this.framesDone++;
        await this.sleep(Math.min(deadline, started + periodMs) - performance.now());
      }
      if (this.stopReason !== null) reason = this.stopReason;
    } catch (err) {
      reason = `failed: ${messageOf(err)}`;
      logger.error({ acq_id: this.acqId, err: messageOf(err) }, "live view failed");
    } finally {
      this.watchdog.stop();
      try {
        await microscope.lasersOff();
      } catch (err) {
        logger.fatal({ err: messageOf(err) }, "could not switch the lasers off after live view");
      }
      this.ended = true;
    }
    logger.info({ acq_id: this.acqId, frames: this.framesDone, reason }, "live view ended");
    return reason;
  }

  /** Waits, cut short by stop(). */
  private sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.stopReason !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
    });
  }
}
