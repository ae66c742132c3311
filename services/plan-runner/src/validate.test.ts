import { describe, expect, it } from "vitest";
import { GentlyError, MAX_CONTINUOUS_VOLUMES } from "@gently/protocol";
import { parsePlan } from "./plans";
import { stepWeight } from "./steps";
import { checkSteps, MAX_LISTED_VIOLATIONS, planRefusal } from "./validate";
import { testState } from "../test/test-state";

function dryRun(name: string, params: Record<string, unknown>, state = testState()) {
  const plan = parsePlan(name, params);
  const steps = plan.definition.expand(plan.params, state);
  return { steps, violations: checkSteps(state.limits, steps).violations };
}

describe("plan expansion and validation (dry run)", () => {
  it("lists every slice of every timepoint that leaves the piezo range, naming timepoint and slice", () => {
    // 100 slices from 129 µm in 2 µm steps: slices 37..100 (201..327 µm) are past the 200 µm limit
    const { steps, violations } = dryRun("timelapse_volume", {
      num_timepoints: 3,
      interval_s: 60,
      num_slices: 100,
      piezo_center_um: 228,
      piezo_amplitude_um: 99,
    });
    expect(steps.filter((s) => s.kind === "acquire")).toHaveLength(3);
    expect(violations).toHaveLength(64 * 3);
    expect(violations.every((v) => v.device === "PiezoStage:P:34" && v.field === "piezo_um" && v.max === 200)).toBe(true);
    const t2s37 = violations.find((v) => v.where === "timepoint 2, slice 37");
    expect(t2s37).toMatchObject({ value: 201, min: -200, max: 200 });
    expect(violations.some((v) => v.where === "timepoint 2, slice 36")).toBe(false);
    expect(violations.at(-1)).toMatchObject({ where: "timepoint 3, slice 100", value: 327 });
  });

  it("collects violations of different devices across the whole plan, not just the first", () => {
    const { violations } = dryRun("calibrate_piezo_galvo", {
      piezo_positions_um: [0, 250],
      galvo_positions_deg: [-6, 0, 1],
    });
    expect(violations.map((v) => `${v.field}@${v.where}`)).toEqual([
      "galvo_deg@piezo 1, galvo 1",
      "piezo_um@piezo 2",
      "galvo_deg@piezo 2, galvo 1",
    ]);
  });

  it("accepts the instrument defaults of acquire_volume: 100 slices from 25 to 75 µm, galvo -0.5 to 0.5°", () => {
    const { steps, violations } = dryRun("acquire_volume", {});
    expect(violations).toEqual([]);
    const [step] = steps;
    expect(step).toMatchObject({
      kind: "acquire",
      volume: {
        num_slices: 100,
        exposure_ms: 5,
        laser_config: "488 and 561",
        cameras: ["HamCam1"],
        sweep: { piezo_start_um: 25, galvo_start_deg: -0.5 },
      },
    });
    if (step?.kind !== "acquire") throw new Error("not an acquire step");
    expect(step.volume.sweep.piezo_start_um + 99 * step.volume.sweep.piezo_step_um).toBeCloseTo(75, 9);
    expect(stepWeight(step)).toBe(100);
  });

  it("checks stage moves, exposures and slice counts against the limits", () => {
    expect(dryRun("move_stage", { x_um: 3000, y_um: 0 }).violations).toEqual([
      { device: "XYStage:XY:31", field: "x_um", value: 3000, min: 500, max: 2500, where: "stage move" },
    ]);
    expect(dryRun("snap_bottom", { exposure_ms: 0.05 }).violations).toMatchObject([{ device: "Bottom PCO", field: "exposure_ms" }]);
    expect(dryRun("acquire_volume", { num_slices: 2001, piezo_amplitude_um: 10, galvo_amplitude_deg: 0.1 }).violations).toMatchObject([
      { device: "sweep", field: "num_slices", value: 2001 },
    ]);
  });

  it("schedules timelapse volumes start to start and focus snaps at the current piezo when none is given", () => {
    const { steps } = dryRun("timelapse_volume", { num_timepoints: 3, interval_s: 10, num_slices: 5 });
    expect(steps.map((s) => (s.kind === "wait_until" ? `wait ${s.at_s}` : s.kind))).toEqual(["acquire", "wait 10", "acquire", "wait 20", "acquire"]);
    const focus = dryRun("focus_sweep", { galvo_positions_deg: [0.4, 0.5, 0.6] }, testState({ piezo_um: 50 })).steps;
    expect(focus.filter((s) => s.kind === "snap").map((s) => (s.kind === "snap" ? s.focus : null))).toEqual([
      { sweep: 0, galvo_deg: 0.4, piezo_um: 50 },
      { sweep: 0, galvo_deg: 0.5, piezo_um: 50 },
      { sweep: 0, galvo_deg: 0.6, piezo_um: 50 },
    ]);
    expect(focus.some((s) => s.kind === "move" && s.request.axis === "piezo")).toBe(false);
  });

  it("runs interval_s 0 as continuous sequences of at most MAX_CONTINUOUS_VOLUMES volumes, every slice checked once per sequence", () => {
    const { steps, violations } = dryRun("timelapse_volume", { num_timepoints: 4500, interval_s: 0, num_slices: 5 });
    expect(steps.map((s) => (s.kind === "acquire" ? [s.where, s.timepoint, s.volumes] : s.kind))).toEqual([
      ["timepoints 1-2000 (back to back)", 1, MAX_CONTINUOUS_VOLUMES],
      ["timepoints 2001-4000 (back to back)", 2001, MAX_CONTINUOUS_VOLUMES],
      ["timepoints 4001-4500 (back to back)", 4001, 500],
    ]);
    expect(steps.reduce((n, s) => n + stepWeight(s), 0)).toBe(4500 * 5);
    expect(violations).toEqual([]);
    // exactly one volume's exposures is not too short
    expect(dryRun("timelapse_volume", { num_timepoints: 2, interval_s: 0.25, num_slices: 50, exposure_ms: 5 }).steps).toHaveLength(3);
  });

  it("refuses a plan that is not on the allow-list, naming the allowed ones, and bad parameters by name", () => {
    const unknown = (() => {
      try {
        parsePlan("rm_rf", {});
      } catch (err) {
        return err as GentlyError;
      }
    })();
    expect(unknown).toBeInstanceOf(GentlyError);
    expect(unknown?.code).toBe("unknown_plan");
    expect(unknown?.message).toMatch(/acquire_volume.*timelapse_volume/);
    expect(() => parsePlan("move_stage", { x_um: 1 })).toThrow(/params\.y_um/);
    expect(() => parsePlan("move_stage", { x_um: 1, y_um: 2, z_um: 3 })).toThrow(GentlyError);
    expect(() => parsePlan("set_illumination", {})).toThrow(/laser_config, led, or both/);
  });

  it("counts every violation of a huge timelapse but lists a bounded number, so the refusal fits in a reply", () => {
    const state = testState();
    const plan = parsePlan("timelapse_volume", { num_timepoints: 100_000, interval_s: 60, num_slices: 2000, piezo_center_um: 500, piezo_amplitude_um: 10 });
    const check = checkSteps(state.limits, plan.definition.expand(plan.params, state));
    expect(check.total).toBe(100_000 * 2000);
    expect(check.violations).toHaveLength(MAX_LISTED_VIOLATIONS);
    expect(check.violations[0]).toMatchObject({ where: "timepoint 1, slice 1", value: 490 });
    const refusal = planRefusal(check);
    expect(refusal.code).toBe("limit_violation");
    expect(refusal.message).toMatch(/200000000 violations in all; the first 1000 are listed/);
    expect(refusal.details).toMatchObject({ total: 200_000_000 });
  });
});
