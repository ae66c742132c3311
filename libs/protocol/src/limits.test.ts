import { describe, expect, it } from "vitest";
import {
  checkLaserPowers,
  checkTargets,
  DEFAULT_LIMITS as limits,
  describeViolation,
  limitViolationError,
  roundToResolution,
  sweepTargets,
} from "./limits";

describe("checkTargets", () => {
  it("accepts targets inside, on the edges, and omitted fields", () => {
    expect(checkTargets(limits, {})).toEqual([]);
    expect(checkTargets(limits, { x_um: 500, y_um: 1000, piezo_um: -200, num_slices: 2000 })).toEqual([]);
  });

  it("returns every violation with device, value and both limits", () => {
    const violations = checkTargets(limits, { x_um: 3000, y_um: -1001, z_um: 100, exposure_ms: 0.01, camera: "HamCam1" }, "slice 3");
    expect(violations).toEqual([
      { device: "XYStage:XY:31", field: "x_um", value: 3000, min: 500, max: 2500, where: "slice 3" },
      { device: "XYStage:XY:31", field: "y_um", value: -1001, min: -1000, max: 1000, where: "slice 3" },
      { device: "HamCam1", field: "exposure_ms", value: 0.01, min: 0.1, max: 10000, where: "slice 3" },
    ]);
  });

  it("rounds the piezo to 0.001 µm before checking, as the device will", () => {
    expect(checkTargets(limits, { piezo_um: 200.0004 })).toEqual([]);
    expect(checkTargets(limits, { piezo_um: 200.0006 })).toEqual([
      { device: "PiezoStage:P:34", field: "piezo_um", value: 200.001, min: -200, max: 200 },
    ]);
  });

  it("refuses non-finite values and fractional slice counts", () => {
    expect(checkTargets(limits, { galvo_deg: Number.NaN }).map((v) => v.field)).toEqual(["galvo_deg"]);
    expect(checkTargets(limits, { f_um: Number.POSITIVE_INFINITY }).map((v) => v.field)).toEqual(["f_um"]);
    expect(checkTargets(limits, { num_slices: 2.5 }).map((v) => v.field)).toEqual(["num_slices"]);
  });

  it("bounds a sweep by its first and last slice", () => {
    const { first, last } = sweepTargets({ piezo_start_um: -50, piezo_step_um: 1, galvo_start_deg: -0.5, galvo_step_deg: 0.01 }, 101);
    expect(first).toEqual({ piezo_um: -50, galvo_deg: -0.5 });
    expect(last.piezo_um).toBe(50);
    expect(last.galvo_deg).toBeCloseTo(0.5, 12);
  });

  it("turns violations into one limit_violation error naming device, value and limit", () => {
    const violations = checkTargets(limits, { x_um: 3000, z_um: 10 });
    expect(describeViolation(violations[0])).toBe("XYStage:XY:31 x_um 3000 is above the maximum 2500 (limits 500..2500)");
    const err = limitViolationError(violations);
    expect(err.code).toBe("limit_violation");
    expect(err.field).toBe("x_um");
    expect(err.message).toContain("ZStage:Z:32 z_um 10 is below the minimum 50");
    expect(err.details).toEqual({ violations });
  });

  it("rounds to a device's step without crossing a limit that is off the step grid", () => {
    const x = { min: 500, max: 2500, resolution: 0.015 };
    // nearest steps of 2499.999 are 2499.990 and 2500.005: the one inside wins
    expect(roundToResolution(x, 2499.999)).toBe(2499.99);
    expect(roundToResolution(x, 500.001)).toBe(500.01);
    expect(roundToResolution(x, 1000.007)).toBe(1000.005);
    // a target already outside stays outside (and is refused)
    expect(checkTargets({ ...limits, x_um: x }, { x_um: 2500.01 })).toHaveLength(1);
    expect(checkTargets({ ...limits, x_um: x }, { x_um: 2499.999 })).toEqual([]);
  });

  it("caps each laser line's power, 488 nm lowest", () => {
    expect(checkLaserPowers(limits, { "488": 6, "561": 10 })).toEqual([]);
    expect(checkLaserPowers(limits, { "405": -1, "488": 6.5 })).toEqual([
      { device: "laser 405 nm", field: "power_pct", value: -1, min: 0, max: 10 },
      { device: "laser 488 nm", field: "power_pct", value: 6.5, min: 0, max: 6 },
    ]);
    expect(checkLaserPowers(limits, { "637": Number.NaN })).toHaveLength(1);
  });
});
