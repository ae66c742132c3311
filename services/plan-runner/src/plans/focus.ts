import type { CameraName, LaserPreset } from "@gently/protocol";
import type { Step } from "../steps";
import { findFocusPeak, type FocusPoint } from "../focus-peak";
import { linearFit } from "../linear-fit";
import { focusScoreOfImage } from "../focus-analysis";
import type { AnalysisContext, PlanDefinition, StepRecord } from "./definition";
import { LASERS_OFF } from "./teardowns";

/** Galvo moves and focus snaps of one sweep at one piezo position. */
function sweepSteps(
  sweep: number,
  piezo_um: number | undefined,
  galvos: readonly number[],
  snap: { camera: CameraName; exposure_ms: number; laser_config: LaserPreset },
  prefix: string,
): Step[] {
  const steps: Step[] = [];
  galvos.forEach((galvo_deg, i) => {
    const where = `${prefix}galvo ${i + 1}`;
    steps.push({ kind: "move", request: { axis: "galvo", galvo_deg }, where });
    steps.push({
      kind: "snap",
      camera: snap.camera,
      exposure_ms: snap.exposure_ms,
      laser_config: snap.laser_config,
      where,
      focus: { sweep, galvo_deg, ...(piezo_um === undefined ? {} : { piezo_um }) },
    });
  });
  return steps;
}

/** A focus plan's analysis of its snaps: where the sheet was, and how sharp the image is. */
async function scoreFocusSnap(step: Step, ctx: AnalysisContext): Promise<Record<string, unknown>> {
  if (step.kind !== "snap" || !step.focus || !ctx.volume) return {};
  const { sweep, galvo_deg, piezo_um } = step.focus;
  return { sweep, galvo_deg, ...(piezo_um !== undefined ? { piezo_um } : {}), focus_score: await focusScoreOfImage(ctx.volume, ctx.storage) };
}

function pointsOf(records: StepRecord[], sweep: number): FocusPoint[] {
  return records
    .filter((r) => r.step.kind === "snap" && r.step.focus?.sweep === sweep)
    .map((r) => ({ galvo_deg: Number(r.data.galvo_deg), score: Number(r.data.focus_score), image_uid: String(r.data.image_uid) }));
}

/** focus_sweep: a focus snap per galvo angle at one piezo position (where the piezo is, unless given). */
export const focusSweep: PlanDefinition<"focus_sweep"> = {
  name: "focus_sweep",
  readOnly: false,
  teardown: LASERS_OFF,
  analyze: scoreFocusSnap,
  expand: (p, state) => {
    const piezo_um = p.piezo_um ?? state.position.piezo_um;
    const steps: Step[] = [];
    if (p.piezo_um !== undefined) steps.push({ kind: "move", request: { axis: "piezo", piezo_um: p.piezo_um }, where: "piezo" });
    return steps.concat(sweepSteps(0, piezo_um, p.galvo_positions_deg, p, ""));
  },
  summarize: (p, records) => {
    const points = pointsOf(records, 0);
    if (points.length === 0) return { scores: [] };
    return { piezo_um: records.find((r) => r.step.kind === "snap")?.data.piezo_um ?? p.piezo_um, scores: points, ...findFocusPeak(points) };
  },
};

/**
 * calibrate_piezo_galvo: a focus sweep at each piezo position, the peak
 * galvo angle of each, and a line through them: galvo_deg = slope * piezo_um
 * + offset. Only sweeps with a focus peak count; with fewer than two, no fit
 * is stored and each sweep says why. The fit is stored as a calibration
 * record with its r² and residuals.
 */
export const calibratePiezoGalvo: PlanDefinition<"calibrate_piezo_galvo"> = {
  name: "calibrate_piezo_galvo",
  readOnly: false,
  teardown: LASERS_OFF,
  analyze: scoreFocusSnap,
  expand: (p) => {
    const steps: Step[] = [];
    p.piezo_positions_um.forEach((piezo_um, j) => {
      const prefix = `piezo ${j + 1}, `;
      steps.push({ kind: "move", request: { axis: "piezo", piezo_um }, where: `piezo ${j + 1}` });
      steps.push(...sweepSteps(j, piezo_um, p.galvo_positions_deg, p, prefix));
    });
    return steps;
  },
  summarize: async (p, records, ctx) => {
    const sweeps = p.piezo_positions_um.map((piezo_um, j) => ({ piezo_um, points: pointsOf(records, j) }));
    const complete = sweeps.filter((s) => s.points.length === p.galvo_positions_deg.length);
    const judged = complete.map((s) => ({ piezo_um: s.piezo_um, ...findFocusPeak(s.points) }));
    const peaks = judged.flatMap((s) => (s.found ? [s] : []));
    if (peaks.length < 2) {
      const why = judged.filter((s) => !s.found).map((s) => `piezo ${s.piezo_um} µm: ${"reason" in s ? s.reason : ""}`);
      return {
        sweeps: judged,
        fitted: false,
        reason: `a fit needs focus peaks in at least two sweeps, found ${peaks.length} of ${p.piezo_positions_um.length}${why.length > 0 ? `; ${why.join("; ")}` : ""}`,
      };
    }
    const fit = linearFit(
      peaks.map((s) => s.piezo_um),
      peaks.map((s) => s.peak_galvo_deg),
    );
    const residuals_deg = peaks.map((s) => s.peak_galvo_deg - (fit.slope * s.piezo_um + fit.offset));
    const record = {
      kind: "piezo_galvo",
      slope_deg_per_um: fit.slope,
      offset_deg: fit.offset,
      r2: fit.r2,
      residuals_deg,
      points: peaks.map((s) => ({ piezo_um: s.piezo_um, galvo_deg: s.peak_galvo_deg, score: s.best_score, contrast: s.contrast })),
      skipped: judged.filter((s) => !s.found).map((s) => ({ piezo_um: s.piezo_um, reason: "reason" in s ? s.reason : "" })),
      camera: p.camera,
      laser_config: p.laser_config,
      exposure_ms: p.exposure_ms,
      galvo_positions_deg: p.galvo_positions_deg,
      run_uid: ctx.run_uid,
      session_id: ctx.session_id,
      created: new Date().toISOString(),
    };
    const stored = await ctx.storeCalibration(record);
    return {
      fitted: true,
      slope_deg_per_um: fit.slope,
      offset_deg: fit.offset,
      r2: fit.r2,
      residuals_deg,
      sweeps: judged,
      calibration_uid: stored.uid,
      path: stored.path,
    };
  },
};
