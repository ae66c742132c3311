import type { VolumeParams } from "@gently/protocol";
import type { Step, VolumeSpec } from "../steps";
import { sweepOf } from "../sweep";
import type { PlanDefinition, StepRecord } from "./definition";

function volumeSpec(p: VolumeParams): VolumeSpec {
  return {
    cameras: [...p.cameras],
    num_slices: p.num_slices,
    exposure_ms: p.exposure_ms,
    sweep: sweepOf(p),
    laser_config: p.laser_config,
  };
}

function volumeRefs(records: StepRecord[], session_id: string) {
  return records
    .filter((r) => r.step.kind === "acquire")
    .map((r) => ({ uid: r.data.volume_uid, path: r.data.path, shape: r.data.shape, dtype: r.data.dtype, session_id }));
}

/** acquire_volume: one sweep; the result is the volume's reference (uid, path, shape, dtype). */
export const acquireVolume: PlanDefinition<"acquire_volume"> = {
  name: "acquire_volume",
  readOnly: false,
  lasersOff: true,
  expand: (p) => [{ kind: "acquire", volume: volumeSpec(p), where: "volume" }],
  summarize: (_p, records, ctx) => volumeRefs(records, ctx.session_id)[0] ?? {},
};

/**
 * timelapse_volume: volume t starts interval_s * t after the run started
 * (start to start; a volume longer than the interval delays the next, it is
 * never skipped).
 */
export const timelapseVolume: PlanDefinition<"timelapse_volume"> = {
  name: "timelapse_volume",
  readOnly: false,
  lasersOff: true,
  expand: (p) => {
    const volume = volumeSpec(p);
    const steps: Step[] = [];
    for (let t = 0; t < p.num_timepoints; t++) {
      const where = `timepoint ${t + 1}`;
      if (t > 0 && p.interval_s > 0) steps.push({ kind: "wait_until", at_s: t * p.interval_s, where });
      steps.push({ kind: "acquire", volume, where, timepoint: t + 1 });
    }
    return steps;
  },
  summarize: (_p, records, ctx) => {
    const volumes = volumeRefs(records, ctx.session_id);
    return { volume_uids: volumes.map((v) => v.uid), volumes };
  },
};
