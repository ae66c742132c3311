import { describe, expect, it } from "vitest";
import { fft1d } from "./fft";
import { focusScore, peakPosition } from "./focus-score";
import { linearFit } from "./linear-fit";

/** Randomly placed Gaussian spots (nuclei-like) of width sigma px; a larger sigma is the same field out of focus. */
function spots(width: number, height: number, sigmaPx: number): Uint16Array {
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const centres = Array.from({ length: 120 }, () => [rand() * width, rand() * height] as const);
  const field = new Float64Array(width * height);
  const reach = Math.ceil(3 * sigmaPx);
  for (const [cx, cy] of centres) {
    for (let y = Math.max(0, Math.floor(cy - reach)); y < Math.min(height, cy + reach); y++) {
      for (let x = Math.max(0, Math.floor(cx - reach)); x < Math.min(width, cx + reach); x++) {
        field[y * width + x]! += Math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * sigmaPx * sigmaPx)) * (4 / sigmaPx ** 2);
      }
    }
  }
  return Uint16Array.from(field, (v) => Math.round(100 + 200 * v));
}

describe("focus score", () => {
  it("fft1d matches a direct DFT", () => {
    const n = 16;
    const signal = Array.from({ length: n }, (_, i) => Math.sin(i * 0.7) + (i % 3));
    const re = Float64Array.from(signal);
    const im = new Float64Array(n);
    fft1d(re, im);
    for (let k = 0; k < n; k++) {
      let dr = 0;
      let di = 0;
      for (let t = 0; t < n; t++) {
        dr += signal[t]! * Math.cos((-2 * Math.PI * k * t) / n);
        di += signal[t]! * Math.sin((-2 * Math.PI * k * t) / n);
      }
      expect(re[k]).toBeCloseTo(dr, 9);
      expect(im[k]).toBeCloseTo(di, 9);
    }
  });

  it("scores fine structure above the same structure blurred, whatever the brightness", () => {
    const w = 256;
    const h = 128;
    const sharp = focusScore({ width: w, height: h, data: spots(w, h, 1.5) });
    const soft = focusScore({ width: w, height: h, data: spots(w, h, 6) });
    expect(sharp).toBeGreaterThan(soft * 1.5);
    const brighter = spots(w, h, 1.5).map((v) => v * 3);
    expect(focusScore({ width: w, height: h, data: brighter })).toBeCloseTo(sharp, 2);
    expect(focusScore({ width: w, height: h, data: new Uint16Array(w * h).fill(500) })).toBe(0);
  });

  it("finds the vertex of a parabola between samples, and keeps an end-of-sweep best where it is", () => {
    const xs = [0.3, 0.4, 0.5, 0.6, 0.7];
    expect(peakPosition(xs, xs.map((x) => 1 - (x - 0.53) ** 2))).toBeCloseTo(0.53, 9);
    expect(peakPosition(xs, [5, 4, 3, 2, 1])).toBe(0.3);
  });

  it("fits a line with r² = 1 through exact points and less through scattered ones", () => {
    expect(linearFit([0, 50, 100], [0, 0.5, 1])).toMatchObject({ slope: 0.01, offset: 0, r2: 1 });
    const noisy = linearFit([0, 1, 2, 3], [0, 1.2, 1.8, 3.1]);
    expect(noisy.r2).toBeLessThan(1);
    expect(noisy.r2).toBeGreaterThan(0.95);
    expect(() => linearFit([1, 1], [0, 1])).toThrow(/undetermined/);
  });
});
