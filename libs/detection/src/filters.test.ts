import { describe, expect, it } from "vitest";
import { gaussianBlur, gaussianKernel } from "./blur";
import { clahe, equalizeHistogram } from "./equalize";
import { integerPercentiles, normalizePercentile } from "./intensity";
import { close, dilate, erode, open } from "./morphology";

describe("percentiles and normalisation", () => {
  it("computes exact integer percentiles", () => {
    const data = new Uint16Array(100);
    for (let i = 0; i < 100; i++) data[i] = i * 10;
    expect(integerPercentiles(data, [0, 2, 50, 98, 100])).toEqual([0, 10, 490, 970, 990]);
  });

  it("maps the 2–98 % range onto [0, 1] with clipping", () => {
    const data = new Uint16Array(100);
    for (let i = 0; i < 100; i++) data[i] = 1000 + i;
    const out = normalizePercentile({ data, width: 10, height: 10 });
    expect(out[0]).toBe(0);
    expect(out[99]).toBe(1);
    expect(out[50]).toBeCloseTo((1050 - 1001) / (1097 - 1001), 6);
  });

  it("maps a flat image to zeros", () => {
    const out = normalizePercentile({ data: new Uint8Array(16).fill(7), width: 4, height: 4 });
    expect(Array.from(out)).toEqual(new Array(16).fill(0));
  });
});

describe("gaussianBlur", () => {
  it("has a normalised kernel and preserves constants and the image mean", () => {
    const k = gaussianKernel(2);
    expect(k.length).toBe(13);
    expect(k.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 6);
    const flat = new Float32Array(40 * 30).fill(0.25);
    for (const v of gaussianBlur(flat, 40, 30, 3)) expect(v).toBeCloseTo(0.25, 6);
    const impulse = new Float32Array(41 * 41);
    impulse[20 * 41 + 20] = 1;
    const blurred = gaussianBlur(impulse, 41, 41, 2);
    expect(blurred.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 5);
    expect(blurred[20 * 41 + 20]).toBeCloseTo(k[6] * k[6], 6);
    expect(blurred[20 * 41 + 22]).toBeCloseTo(k[6] * k[8], 6);
  });
});

describe("equalisation", () => {
  it("CLAHE keeps values in [0, 1], equalises each half locally, and the clip limit caps the gain", () => {
    const w = 64;
    const h = 64;
    const values = new Float32Array(w * h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) values[y * w + x] = (x < 32 ? 0.1 : 0.6) + 0.05 * (((x * 7 + y * 13) % 10) / 10);
    const meanOf = (img: Float32Array, x0: number, x1: number): number => {
      let s = 0;
      for (let y = 0; y < h; y++) for (let x = x0; x < x1; x++) s += img[y * w + x];
      return s / ((x1 - x0) * h);
    };
    const unclipped = clahe(values, w, h, { tilesX: 2, tilesY: 2, clipLimit: 1000 });
    for (const v of unclipped) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(1);
    }
    // Before: 0.12 vs 0.62. Unclipped local equalisation spreads each half over the full range (mean ≈ 0.55).
    expect(Math.abs(meanOf(unclipped, 0, 16) - meanOf(unclipped, 48, 64))).toBeLessThan(0.05);
    // clipLimit 1 flattens every tile histogram to uniform, so the mapping is ~identity.
    const clipped = clahe(values, w, h, { tilesX: 2, tilesY: 2, clipLimit: 1 });
    expect(meanOf(clipped, 0, 16)).toBeCloseTo(0.125, 1);
    expect(meanOf(clipped, 48, 64)).toBeCloseTo(0.625, 1);
  });

  it("global equalisation flattens the histogram", () => {
    const values = new Float32Array(1000);
    for (let i = 0; i < 1000; i++) values[i] = (i / 1000) ** 4;
    const out = equalizeHistogram(values, 1024);
    expect(out[500]).toBeGreaterThan(0.45);
    expect(out[500]).toBeLessThan(0.55);
  });
});

describe("morphology", () => {
  const w = 20;
  const h = 20;
  it("opening removes specks and keeps a square; closing fills a pinhole", () => {
    const mask = new Uint8Array(w * h);
    for (let y = 5; y < 15; y++) for (let x = 5; x < 15; x++) mask[y * w + x] = 1;
    mask[10 * w + 10] = 0; // pinhole
    mask[1 * w + 1] = 1; // speck
    const opened = open(mask, w, h, 1);
    expect(opened[1 * w + 1]).toBe(0);
    expect(opened[6 * w + 6]).toBe(1);
    const closed = close(opened, w, h, 1);
    expect(closed[10 * w + 10]).toBe(1);
    expect(closed.reduce((s, v) => s + v, 0)).toBe(100);
  });

  it("treats the frame as neutral", () => {
    const full = new Uint8Array(w * h).fill(1);
    expect(erode(full, w, h, 2).every((v) => v === 1)).toBe(true);
    const corner = new Uint8Array(w * h);
    corner[0] = 1;
    const d = dilate(corner, w, h, 2);
    expect(d.reduce((s, v) => s + v, 0)).toBe(9);
  });
});
