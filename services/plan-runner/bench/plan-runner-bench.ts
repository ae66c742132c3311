import { median, timeRuns } from "@gently/bench-stats";
import { focusScore } from "../src/focus-score";
import { parsePlan } from "../src/plans";
import { checkSteps } from "../src/validate";
import { testState } from "../test/test-state";

export interface PlanRunnerBenchResult {
  /** focus score of one light-sheet frame (centred 256×256 crop, 2-D FFT): median ms */
  focus_score_ms: number;
  frame: { width: number; height: number };
  /** dry run + limit check of a timelapse (every slice of every timepoint): median ms */
  validate_timelapse_ms: number;
  timelapse: { timepoints: number; slices: number; targets: number };
  runs: number;
}

/**
 * What validation before motion and focus scoring cost: the focus score of
 * a full-width light-sheet frame (2048×512, the diSPIM's default ROI) and
 * the dry run of a long timelapse checked slice by slice.
 */
export async function benchPlanRunner(opts: { runs?: number; timepoints?: number; slices?: number; width?: number; height?: number } = {}): Promise<PlanRunnerBenchResult> {
  const runs = opts.runs ?? 21;
  const width = opts.width ?? 2048;
  const height = opts.height ?? 512;
  const timepoints = opts.timepoints ?? 1000;
  const slices = opts.slices ?? 2000;
  let seed = 7;
  const frame = Uint16Array.from({ length: width * height }, () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % 4000) + 100);
  const focus_score_ms = median(timeRuns(runs, () => focusScore({ width, height, data: frame })));

  const state = testState();
  const plan = parsePlan("timelapse_volume", { num_timepoints: timepoints, interval_s: 60, num_slices: slices, piezo_center_um: 0, piezo_amplitude_um: 50 });
  const validate_timelapse_ms = median(timeRuns(runs, () => checkSteps(state.limits, plan.definition.expand(plan.params, state))));
  return {
    focus_score_ms,
    frame: { width, height },
    validate_timelapse_ms,
    timelapse: { timepoints, slices, targets: timepoints * slices },
    runs,
  };
}
