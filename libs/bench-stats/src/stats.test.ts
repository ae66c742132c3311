import { describe, expect, it } from "vitest";
import { median, timeRuns, timingStats } from "./index";

describe("median", () => {
  it("takes the middle sample of an odd count, whatever the order", () => {
    expect(median([9, 1, 5])).toBe(5);
    expect(median([7])).toBe(7);
  });

  it("averages the middle two of an even count", () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it("is NaN for no samples rather than a made-up number", () => {
    expect(median([])).toBeNaN();
  });

  it("leaves the caller's samples in the order they were taken", () => {
    const samples = [3, 1, 2];
    median(samples);
    expect(samples).toEqual([3, 1, 2]);
  });
});

describe("timingStats", () => {
  it("reports median, fastest run and the samples as taken", () => {
    expect(timingStats([12, 10, 30, 11])).toEqual({ median_ms: 11.5, min_ms: 10, samples_ms: [12, 10, 30, 11] });
  });
});

describe("timeRuns", () => {
  it("calls fn once per run and measures each call's real duration", () => {
    let calls = 0;
    const samples = timeRuns(3, () => {
      calls++;
      const until = performance.now() + 5;
      while (performance.now() < until);
    });
    expect(calls).toBe(3);
    expect(samples).toHaveLength(3);
    for (const ms of samples) expect(ms).toBeGreaterThanOrEqual(4.5);
  });
});
