import { GentlyError, MAX_CONTINUOUS_VOLUMES, type VolumeParams } from "@gently/protocol";
import type { Step, VolumeSpec } from "../steps";
import { sweepOf } from "../sweep";
import type { PlanDefinition, StepRecord } from "./definition";
import { LASERS_OFF } from "./teardowns";

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
  teardown: LASERS_OFF,
  expand: (p) => [{ kind: "acquire", volume: volumeSpec(p), where: "volume" }],
  summarize: (_p, records, ctx) => volumeRefs(records, ctx.session_id)[0] ?? {},
};

/** The shortest a volume can take: every slice one exposure (the cameras expose together; readout overlaps the next exposure). */
function volumeSeconds(p: VolumeParams): number {
  return (p.num_slices * p.exposure_ms) / 1000;
}

/** interval_s 0: every timepoint back to back, in continuous sequences of at most this many volumes. */
function continuousSteps(volume: VolumeSpec, timepoints: number): Step[] {
  const steps: Step[] = [];
  for (let first = 0; first < timepoints; first += MAX_CONTINUOUS_VOLUMES) {
    const volumes = Math.min(MAX_CONTINUOUS_VOLUMES, timepoints - first);
    const where = volumes > 1 ? `timepoints ${first + 1}-${first + volumes} (back to back)` : `timepoint ${first + 1}`;
    steps.push({ kind: "acquire", volume, where, timepoint: first + 1, ...(volumes > 1 ? { volumes } : {}) });
  }
  return steps;
}

/**
 * timelapse_volume: volume t starts interval_s * t after the run started
 * (start to start). An interval shorter than a volume is refused; interval_s
 * 0 runs the volumes back to back in one camera sequence (continuous
 * imaging: no set-up between volumes).
 */
export const timelapseVolume: PlanDefinition<"timelapse_volume"> = {
  name: "timelapse_volume",
  readOnly: false,
  teardown: LASERS_OFF,
  expand: (p) => {
    const volume = volumeSpec(p);
    if (p.interval_s === 0) return continuousSteps(volume, p.num_timepoints);
    const seconds = volumeSeconds(p);
    if (p.num_timepoints > 1 && p.interval_s < seconds) {
      throw new GentlyError(
        "invalid_request",
        `interval_s ${p.interval_s} s is shorter than one volume (${p.num_slices} slices × ${p.exposure_ms} ms exposure = ${seconds} s): use at least ${seconds} s, or 0 for volumes back to back`,
        "interval_s",
      );
    }
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
