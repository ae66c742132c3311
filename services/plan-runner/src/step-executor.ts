import { existsSync } from "node:fs";
import { call } from "@gently/bus";
import { readVolumeFile } from "@gently/ome-tiff";
import { volumePathFor } from "@gently/storage";
import { GentlyError, hw, type HwState, type RunnerStatus, type VolumeWritten } from "@gently/protocol";
import { acquireContinuous, acquireVolume, type AcquisitionDeps, type Owner } from "./acquisition";
import { focusScore } from "./focus-score";
import type { RunControl } from "./run-control";
import { liveView } from "./live";
import { snapImage } from "./snap";
import type { Step } from "./steps";
import { detectEmbryos } from "./detect";

export interface StepContext {
  deps: AcquisitionDeps;
  owner: Owner;
  control: RunControl;
  storage: string;
  /** when the run started (ms since the epoch): timelapse waits count from it */
  startedMs: number;
  runnerStatus(): RunnerStatus;
  /** frames done of the step in progress */
  onFrames(done: number, total: number): void;
  /** records one reading of a step that makes several (continuous volumes, each as soon as it is written) */
  record(data: Record<string, unknown>, volume: VolumeWritten): Promise<void>;
}

/** What a step produced: the data of its event (null: nothing to record), and the file it wrote. */
export interface StepOutcome {
  data: Record<string, unknown> | null;
  /** the hardware or service the reading came from */
  source: string;
  volume?: VolumeWritten;
  /** a wait ended by a stop request: end the run successfully here */
  stop?: boolean;
}

function positionOf(state: HwState) {
  const p = state.position;
  return { x_um: p.x_um, y_um: p.y_um, z_um: p.z_um, f_um: p.f_um, piezo_um: p.piezo_um, galvo_deg: p.galvo_b_deg };
}

/** The file of a written image: where the writer said, else where the storage layout puts it. */
function localPath(written: VolumeWritten, storage: string): string {
  return existsSync(written.path) ? written.path : volumePathFor(storage, written.uid);
}

async function focusOf(written: VolumeWritten, storage: string): Promise<number> {
  const image = await readVolumeFile(localPath(written, storage));
  const [height, width] = image.shape.slice(-2) as [number, number];
  // the first plane: a snap has exactly one
  return focusScore({ width, height, data: image.data.subarray(0, width * height) });
}

/** Runs one typed step against the hardware (or another service) and says what it produced. */
export async function executeStep(step: Step, ctx: StepContext): Promise<StepOutcome> {
  const { nc } = ctx.deps;
  switch (step.kind) {
    case "move": {
      const state = await call(nc, hw.move, step.request, { timeoutMs: 60_000 });
      return { data: { axis: step.request.axis, ...positionOf(state) }, source: "hardware" };
    }
    case "preset": {
      const state = await call(nc, hw.setPreset, step.request);
      return { data: { laser_config: state.laser, led: state.led }, source: "hardware" };
    }
    case "laser_power": {
      const { powers_pct } = await call(nc, hw.laserPower, { powers_pct: step.powers_pct });
      return { data: Object.fromEntries(Object.entries(powers_pct).map(([line, pct]) => [`power_${line}_pct`, pct])), source: "hardware" };
    }
    case "acquire": {
      const volumeData = (written: VolumeWritten, timepoint: number | undefined) => ({
        volume_uid: written.uid,
        path: written.path,
        shape: written.shape,
        dtype: written.dtype,
        ...(timepoint !== undefined ? { timepoint } : {}),
        dropped_frames: written.metadata.dropped_frames,
      });
      if ((step.volumes ?? 1) > 1) {
        const first = step.timepoint ?? 1;
        await acquireContinuous(ctx.deps, step.volume, step.volumes!, ctx.owner, ctx.control.signal, ctx.onFrames, (written, index) =>
          ctx.record(volumeData(written, first + index), written),
        );
        return { data: null, source: "writer" };
      }
      const written = await acquireVolume(ctx.deps, step.volume, ctx.owner, ctx.control.signal, ctx.onFrames);
      return { data: volumeData(written, step.timepoint), source: "writer", volume: written };
    }
    case "snap": {
      const written = await snapImage(ctx.deps, step, ctx.owner, ctx.control.signal);
      const data: Record<string, unknown> = {
        image_uid: written.uid,
        path: written.path,
        shape: written.shape,
        dtype: written.dtype,
        camera: step.camera,
        exposure_ms: step.exposure_ms,
      };
      if (step.focus) {
        Object.assign(data, {
          sweep: step.focus.sweep,
          galvo_deg: step.focus.galvo_deg,
          ...(step.focus.piezo_um !== undefined ? { piezo_um: step.focus.piezo_um } : {}),
          focus_score: await focusOf(written, ctx.storage),
        });
      }
      return { data, source: "writer", volume: written };
    }
    case "wait_until": {
      const verdict = await ctx.control.waitUntil(() => ctx.startedMs + step.at_s * 1000 + ctx.control.pausedMs);
      if (verdict === "abort") throw new GentlyError("aborted", ctx.control.abortReason || "aborted");
      return { data: null, source: "plan", stop: verdict === "stop" };
    }
    case "read": {
      const state = await call(nc, hw.state, {});
      if (step.what === "position") return { data: positionOf(state), source: "hardware" };
      if (step.what === "illumination") return { data: { laser_config: state.laser, led: state.led }, source: "hardware" };
      return {
        data: {
          position: positionOf(state),
          laser_config: state.laser,
          led: state.led,
          cameras: state.cameras,
          limits: state.limits,
          acquisition: state.acquisition,
          laser_power_pct: state.laser_power_pct,
          core: state.core,
          core_info: state.core_info,
          runner: ctx.runnerStatus(),
        },
        source: "hardware",
      };
    }
    case "detect":
      return { data: await detectEmbryos(nc, step.image_uid, ctx.owner.run_uid), source: "sam" };
    case "live": {
      const outcome = await liveView(ctx.deps, step, ctx.owner, ctx.control);
      return { data: { ...outcome }, source: "hardware", stop: outcome.ended === "stopped by request" };
    }
  }
}
