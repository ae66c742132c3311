import { describe, expect, it } from "vitest";
import { median, percentile, timeRuns, timingStats } from "./index";

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

describe("percentile", () => {
  it("takes the nearest rank: p99 of 1..1000 is 990, p50 of 1..4 is 2, p100 the largest", () => {
    const thousand = Array.from({ length: 1000 }, (_, i) => 1000 - i);
    expect(percentile(thousand, 99)).toBe(990);
    expect(percentile([4, 3, 2, 1], 50)).toBe(2);
    expect(percentile([4, 3, 2, 1], 100)).toBe(4);
    expect(percentile([], 99)).toBeNaN();
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
