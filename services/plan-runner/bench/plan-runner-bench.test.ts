import { describe, expect, it } from "vitest";
import { benchPlanRunner } from "./plan-runner-bench";

describe("benchPlanRunner", () => {
  it("times focus scoring and a timelapse's validation (small sizes here)", async () => {
    const r = await benchPlanRunner({ runs: 3, timepoints: 10, slices: 50, width: 256, height: 128 });
    expect(r).toMatchObject({ runs: 3, frame: { width: 256, height: 128 }, timelapse: { timepoints: 10, slices: 50, targets: 500 } });
    expect(r.focus_score_ms).toBeGreaterThan(0);
    expect(r.validate_timelapse_ms).toBeGreaterThan(0);
  });
});
