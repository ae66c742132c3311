import { call } from "@gently/bus";
import { GentlyError, hw, newUid } from "@gently/protocol";
import type { AcquisitionDeps, Owner } from "./acquisition";
import type { RunControl } from "./run-control";
import type { Step } from "./steps";

type LiveStep = Extract<Step, { kind: "live" }>;

/** How often the run looks at the stream between keepalives (stop and abort are seen at once). */
const TICK_MS = 200;

export interface LiveOutcome {
  camera: string;
  exposure_ms: number;
  frames: number;
  duration_s: number;
  /** why the stream ended */
  ended: string;
}

/** A live stream the hardware runs for a step: started in the step's setup, stopped in its teardown. */
export interface LiveStream {
  acq_id: string;
  startedMs: number;
  keepaliveMs: number;
  stopped: boolean;
}

/** Starts live view on the hardware (gently.hw.live.start); the stream is the step's until it is stopped. */
export async function startLive(deps: AcquisitionDeps, step: LiveStep, owner: Owner): Promise<LiveStream> {
  const stream: LiveStream = { acq_id: newUid(), startedMs: Date.now(), keepaliveMs: Math.max(1_000, deps.keepaliveMs), stopped: false };
  await call(deps.nc, hw.startLive, {
    acq_id: stream.acq_id,
    run_uid: owner.run_uid,
    plan_name: owner.plan_name,
    camera: step.camera,
    exposure_ms: step.exposure_ms,
    laser_config: step.laser_config,
    led: step.led,
    // a margin past the run's own deadline: the run stops it, the hardware's limit is the backstop
    max_duration_s: Math.min(3_600, step.duration_s + 5),
    keepalive_ms: stream.keepaliveMs,
  });
  return stream;
}

/** Stops the stream (which switches the lasers off) unless it is stopped already; a failure is logged: the hardware's keepalive watchdog stops it then. */
export async function stopLive(deps: AcquisitionDeps, stream: LiveStream): Promise<void> {
  if (stream.stopped) return;
  stream.stopped = true;
  await call(deps.nc, hw.stopSequence, { acq_id: stream.acq_id, reason: "live view ended" }).catch((err) =>
    deps.logger.error({ acq_id: stream.acq_id, err: String(err) }, "could not stop live view (the hardware's keepalive watchdog will)"),
  );
}

/**
 * Keeps the live stream alive until the run is stopped or aborted or
 * duration_s has passed, then stops it and counts its frames. A stream the
 * hardware ended by itself (a failure) ends the step with that reason.
 */
export async function keepLive(deps: AcquisitionDeps, step: LiveStep, stream: LiveStream, control: RunControl): Promise<LiveOutcome> {
  const { acq_id, keepaliveMs, startedMs } = stream;
  let frames = 0;
  let lost: string | null = null;
  let ended = "ran for its duration";
  const endAt = startedMs + step.duration_s * 1000;
  let lastKeepalive = 0;
  for (;;) {
    if (Date.now() - lastKeepalive >= TICK_MS) {
      lastKeepalive = Date.now();
      try {
        frames = (await call(deps.nc, hw.keepalive, { acq_id }, { timeoutMs: keepaliveMs / 2 })).frames_done;
      } catch (err) {
        if (err instanceof GentlyError && err.code === "not_found") lost = "the hardware ended the stream";
        else deps.logger.debug({ acq_id, err: String(err) }, "keepalive not taken");
      }
    }
    if (lost) {
      ended = lost;
      break;
    }
    const tick = Date.now() + TICK_MS;
    const verdict = await control.waitUntil(() => Math.min(tick, endAt + control.pausedMs));
    if (verdict === "abort") throw new GentlyError("aborted", control.abortReason || "aborted");
    if (verdict === "stop") {
      ended = "stopped by request";
      break;
    }
    if (Date.now() >= endAt + control.pausedMs) break;
  }
  await stopLive(deps, stream);
  // the hardware answers a keepalive of the stream that ended last with its final count
  frames = await call(deps.nc, hw.keepalive, { acq_id }).then((r) => r.frames_done, () => frames);
  return { camera: step.camera, exposure_ms: step.exposure_ms, frames, duration_s: Number(((Date.now() - startedMs) / 1000).toFixed(1)), ended };
}
