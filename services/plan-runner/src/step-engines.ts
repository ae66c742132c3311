import { call } from "@gently/bus";
import { GentlyError, hw, type HwState, type RunnerStatus, type VolumeWritten } from "@gently/protocol";
import { acquireContinuous, acquireVolume, type AcquisitionDeps, type Owner } from "./acquisition";
import { detectEmbryos } from "./detect";
import { keepLive, startLive, stopLive, type LiveStream } from "./live";
import type { RunControl } from "./run-control";
import { snapImage } from "./snap";
import type { Step, StepKind } from "./steps";

export interface StepContext {
  deps: AcquisitionDeps;
  owner: Owner;
  control: RunControl;
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

/**
 * How one kind of step runs, in pymmcore-plus's verbs: setup prepares what
 * the step needs and hands it to execute and teardown; teardown runs after
 * execute whatever happened (an abort included). Most kinds only execute.
 */
export interface StepEngine<S extends Step, Prepared = undefined> {
  setup?(step: S, ctx: StepContext): Promise<Prepared>;
  execute(step: S, ctx: StepContext, prepared: Prepared): Promise<StepOutcome>;
  teardown?(step: S, ctx: StepContext, prepared: Prepared): Promise<void>;
}

type StepOf<K extends StepKind> = Extract<Step, { kind: K }>;

function positionOf(state: HwState) {
  const p = state.position;
  return { x_um: p.x_um, y_um: p.y_um, z_um: p.z_um, f_um: p.f_um, piezo_um: p.piezo_um, galvo_deg: p.galvo_b_deg };
}

function volumeData(written: VolumeWritten, timepoint: number | undefined): Record<string, unknown> {
  return {
    volume_uid: written.uid,
    path: written.path,
    shape: written.shape,
    dtype: written.dtype,
    ...(timepoint !== undefined ? { timepoint } : {}),
    dropped_frames: written.metadata.dropped_frames,
  };
}

const liveEngine: StepEngine<StepOf<"live">, LiveStream> = {
  setup: (step, ctx) => startLive(ctx.deps, step, ctx.owner),
  async execute(step, ctx, stream) {
    const outcome = await keepLive(ctx.deps, step, stream, ctx.control);
    return { data: { ...outcome }, source: "hardware", stop: outcome.ended === "stopped by request" };
  },
  // after an abort or a failure the stream is still running
  teardown: (_step, ctx, stream) => stopLive(ctx.deps, stream),
};

/** Every step kind's engine; the compiler insists on one per kind. */
const STEP_ENGINES: { [K in StepKind]: StepEngine<StepOf<K>, any> } = {
  move: {
    async execute(step, ctx) {
      const state = await call(ctx.deps.nc, hw.move, step.request, { timeoutMs: 60_000 });
      return { data: { axis: step.request.axis, ...positionOf(state) }, source: "hardware" };
    },
  },
  preset: {
    async execute(step, ctx) {
      const state = await call(ctx.deps.nc, hw.setPreset, step.request);
      return { data: { laser_config: state.laser, led: state.led }, source: "hardware" };
    },
  },
  laser_power: {
    async execute(step, ctx) {
      const { powers_pct } = await call(ctx.deps.nc, hw.laserPower, { powers_pct: step.powers_pct });
      return { data: Object.fromEntries(Object.entries(powers_pct).map(([line, pct]) => [`power_${line}_pct`, pct])), source: "hardware" };
    },
  },
  acquire: {
    async execute(step, ctx) {
      if ((step.volumes ?? 1) > 1) {
        const first = step.timepoint ?? 1;
        await acquireContinuous(ctx.deps, step.volume, step.volumes!, ctx.owner, ctx.control.signal, ctx.onFrames, (written, index) =>
          ctx.record(volumeData(written, first + index), written),
        );
        return { data: null, source: "writer" };
      }
      const written = await acquireVolume(ctx.deps, step.volume, ctx.owner, ctx.control.signal, ctx.onFrames);
      return { data: volumeData(written, step.timepoint), source: "writer", volume: written };
    },
  },
  snap: {
    async execute(step, ctx) {
      const written = await snapImage(ctx.deps, step, ctx.owner, ctx.control.signal);
      const data = { image_uid: written.uid, path: written.path, shape: written.shape, dtype: written.dtype, camera: step.camera, exposure_ms: step.exposure_ms };
      return { data, source: "writer", volume: written };
    },
  },
  wait_until: {
    async execute(step, ctx) {
      const verdict = await ctx.control.waitUntil(() => ctx.startedMs + step.at_s * 1000 + ctx.control.pausedMs);
      if (verdict === "abort") throw new GentlyError("aborted", ctx.control.abortReason || "aborted");
      return { data: null, source: "plan", stop: verdict === "stop" };
    },
  },
  read: {
    async execute(step, ctx) {
      const state = await call(ctx.deps.nc, hw.state, {});
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
    },
  },
  detect: {
    async execute(step, ctx) {
      return { data: await detectEmbryos(ctx.deps.nc, step.image_uid, ctx.owner.run_uid), source: "sam" };
    },
  },
  live: liveEngine,
};

/** Runs one step through its engine: setup, execute, and teardown whatever happened. */
export async function runStep(step: Step, ctx: StepContext): Promise<StepOutcome> {
  const engine = STEP_ENGINES[step.kind] as StepEngine<Step, unknown>;
  const prepared = engine.setup ? await engine.setup(step, ctx) : undefined;
  try {
    return await engine.execute(step, ctx, prepared);
  } finally {
    if (engine.teardown) await engine.teardown(step, ctx, prepared);
  }
}

/** The instrument's state now: what a plan is expanded and checked against when its run starts. */
export function instrumentState(deps: AcquisitionDeps): Promise<HwState> {
  return call(deps.nc, hw.state, {});
}
