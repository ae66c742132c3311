import { describe, expect, it } from "vitest";
import { findFocusPeak } from "./focus-peak";

const sweep = (scores: number[], start = -0.06, step = 0.02) => scores.map((score, i) => ({ galvo_deg: Number((start + i * step).toFixed(4)), score, image_uid: `img${i}` }));

describe("focus peak of a sweep", () => {
  it("finds a peak that rises well above the lowest score, refined between the samples", () => {
    const peak = findFocusPeak(sweep([0.1, 0.14, 0.22, 0.3, 0.24, 0.15, 0.1]));
    // background only: noise spreads the scores by about 12 %, and that is no peak
    expect(findFocusPeak(sweep([0.061, 0.0557, 0.0605, 0.0573, 0.0623])).found).toBe(false);
    expect(peak).toMatchObject({ found: true, best_galvo_deg: 0, best_score: 0.3 });
    expect(peak.contrast).toBeCloseTo(2, 9);
    expect(peak.found && peak.peak_galvo_deg).toBeGreaterThan(0);
  });

  it("reports no peak, with the contrast, when the scores are flat within noise", () => {
    const peak = findFocusPeak(sweep([0.1002, 0.0999, 0.1001, 0.0998, 0.1003, 0.1, 0.0999]));
    expect(peak.found).toBe(false);
    expect(peak.contrast).toBeCloseTo(0.005, 4);
    expect(!peak.found && peak.reason).toMatch(/^no focus peak: the scores vary by 0\.5 % .* below the 30 % of a focus peak/);
  });

  it("reports no peak when the best angle is at an end of the sweep, or the sweep is too short", () => {
    const edge = findFocusPeak(sweep([0.3, 0.2, 0.15, 0.12, 0.1]));
    expect(edge).toMatchObject({ found: false, best_galvo_deg: -0.06 });
    expect(!edge.found && edge.reason).toMatch(/at the end of the sweep/);
    const short = findFocusPeak(sweep([0.1, 0.3]));
    expect(!short.found && short.reason).toBe("a focus peak needs at least 3 angles, the sweep has 2");
  });
});
