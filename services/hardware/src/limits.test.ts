import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_LIMITS } from "@gently/protocol";
import { checkMove, checkSequence, loadLimits } from "./limits";

describe("hardware limits", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "gently-limits-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, body: string) => {
    const p = path.join(dir, name);
    writeFileSync(p, body);
    return p;
  };

  it("uses the diSPIM defaults without a file, and a file overrides only the axes it names", () => {
    expect(loadLimits(undefined)).toEqual(DEFAULT_LIMITS);
    const limits = loadLimits(file("site.json", JSON.stringify({ z_um: { min: 60, max: 200 } })));
    expect(limits.z_um).toEqual({ min: 60, max: 200 });
    expect(limits.x_um).toEqual(DEFAULT_LIMITS.x_um);
  });

  it("refuses a limits file with an unknown axis, an inverted range or bad JSON", () => {
    expect(() => loadLimits(file("typo.json", JSON.stringify({ xx_um: { min: 0, max: 1 } })))).toThrowError(/GENTLY_LIMITS .*typo\.json/);
    expect(() => loadLimits(file("inverted.json", JSON.stringify({ x_um: { min: 10, max: 1 } })))).toThrowError(/min must not exceed max/);
    expect(() => loadLimits(file("broken.json", "{"))).toThrowError(/broken\.json/);
  });

  it("checks one move's targets against its devices", () => {
    expect(checkMove(DEFAULT_LIMITS, { axis: "fdrive", f_um: 25_000 })).toEqual([]);
    expect(checkMove(DEFAULT_LIMITS, { axis: "fdrive", f_um: 25_001 })).toEqual([
      { device: "ZStage:V:37", field: "f_um", value: 25_001, min: 20, max: 25_000 },
    ]);
    expect(checkMove(DEFAULT_LIMITS, { axis: "galvo", galvo_deg: -5.5 }).map((v) => v.device)).toEqual(["Scanner:AB:33"]);
  });

  it("checks a sequence's exposure, slice count and both ends of its sweep", () => {
    const ok = { cameras: ["HamCam1" as const], exposure_ms: 10, num_slices: 100, sweep: { piezo_start_um: -50, piezo_step_um: 1, galvo_start_deg: -0.5, galvo_step_deg: 0.01 } };
    expect(checkSequence(DEFAULT_LIMITS, ok)).toEqual([]);
    const violations = checkSequence(DEFAULT_LIMITS, { ...ok, exposure_ms: 0.05, num_slices: 2001, sweep: { ...ok.sweep, piezo_step_um: 0.2 } });
    expect(violations.map((v) => [v.device, v.field, v.value, v.where])).toEqual([
      ["HamCam1", "exposure_ms", 0.05, undefined],
      ["sweep", "num_slices", 2001, undefined],
      ["PiezoStage:P:34", "piezo_um", 350, "last slice (2000) of the sweep"],
      ["Scanner:AB:33", "galvo_deg", 19.5, "last slice (2000) of the sweep"],
    ]);
  });
});
