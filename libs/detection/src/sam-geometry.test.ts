import { describe, expect, it } from "vitest";
import { maskToOriginal, padBox, samGeometry, toModelBox, toModelPoint, toOriginalBox, toOriginalPoint } from "./sam-geometry";
import { preprocessForSam, SAM_PIXEL_MEAN, SAM_PIXEL_STD } from "./sam-preprocess";
import { resizeBilinear } from "./resize";

describe("samGeometry", () => {
  it("resizes the longest side to 1024 with SAM's rounding", () => {
    expect(samGeometry(2048, 2048)).toMatchObject({ resizedWidth: 1024, resizedHeight: 1024 });
    expect(samGeometry(1000, 600)).toMatchObject({ resizedWidth: 1024, resizedHeight: 614 }); // 614.4
    expect(samGeometry(600, 1000)).toMatchObject({ resizedWidth: 614, resizedHeight: 1024 });
    expect(samGeometry(1000, 601)).toMatchObject({ resizedWidth: 1024, resizedHeight: 615 }); // 615.42
    expect(() => samGeometry(0, 10)).toThrow(/positive integers/);
  });

  it("maps a known box on a 2048 snap to the 1024 frame and back", () => {
    const g = samGeometry(2048, 2048);
    expect(toModelBox(g, [100, 200, 300, 401])).toEqual([50, 100, 150, 200.5]);
    expect(toOriginalBox(g, [50, 100, 150, 200.5])).toEqual([100, 200, 300, 401]);
  });

  it("round-trips points on non-square images (per-axis ratios)", () => {
    const g = samGeometry(1000, 601);
    const [mx, my] = toModelPoint(g, 500, 300);
    expect(mx).toBeCloseTo(512, 12);
    expect(my).toBeCloseTo((300 * 615) / 601, 12);
    for (const [x, y] of [[0, 0], [1, 1], [999, 600], [1000, 601], [123, 456]]) {
      const [ox, oy] = toOriginalPoint(g, ...toModelPoint(g, x, y));
      expect(ox).toBeCloseTo(x, 9);
      expect(oy).toBeCloseTo(y, 9);
    }
  });

  it("pads and clips boxes", () => {
    expect(padBox([100, 100, 200, 150], 20, 2048, 2048)).toEqual([80, 80, 220, 170]);
    expect(padBox([5, 10, 2040, 2000], 20, 2048, 2048)).toEqual([0, 0, 2048, 2020]);
    expect(() => padBox([10, 10, 10, 20], 20, 100, 100)).toThrow(/empty/);
  });

  it("maps model-frame rectangles back to the original rectangle: exactly on grid-aligned edges, within one pixel otherwise", () => {
    const cases: Array<{ w: number; h: number; box: [number, number, number, number]; side: number; exact: boolean }> = [
      { w: 2048, h: 2048, box: [100, 200, 300, 400], side: 1024, exact: true },
      // 2048 px onto 256 low-res cells: 8 px per cell, edges on multiples of 8 are representable.
      { w: 2048, h: 2048, box: [96, 200, 304, 400], side: 256, exact: true },
      { w: 1000, h: 600, box: [250, 125, 750, 500], side: 1024, exact: false },
      { w: 640, h: 480, box: [17, 33, 301, 250], side: 1024, exact: false },
    ];
    for (const { w, h, box, side, exact } of cases) {
      const g = samGeometry(w, h);
      // Rasterise the box in the model frame by cell centres.
      const [X0, Y0, X1, Y1] = toModelBox(g, box).map((v) => (v * side) / 1024);
      const frame = new Float32Array(side * side).fill(-1);
      for (let y = 0; y < side; y++) {
        for (let x = 0; x < side; x++) if (x + 0.5 > X0 && x + 0.5 < X1 && y + 0.5 > Y0 && y + 0.5 < Y1) frame[y * side + x] = 1;
      }
      const mask = maskToOriginal(g, frame, side);
      let mismatches = 0;
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const inside = x >= box[0] && x < box[2] && y >= box[1] && y < box[3] ? 1 : 0;
          if (mask[y * w + x] !== inside) mismatches++;
        }
      }
      if (exact) expect(mismatches).toBe(0);
      // One model cell is under 1.1 original pixels here, so each edge is off by at most one pixel row/column.
      else expect(mismatches).toBeLessThanOrEqual(2 * (box[2] - box[0] + box[3] - box[1]) + 4);
    }
  });

  it("maps a 1024-frame mask drawn from original edges back to exactly those pixels", () => {
    const g = samGeometry(2048, 2048);
    const frame = new Uint8Array(1024 * 1024);
    for (let y = 100; y < 200; y++) for (let x = 50; x < 150; x++) frame[y * 1024 + x] = 1;
    const mask = maskToOriginal(g, frame, 1024);
    let count = 0;
    for (let y = 0; y < 2048; y++) for (let x = 0; x < 2048; x++) {
      const v = mask[y * 2048 + x];
      count += v;
      if (v) {
        expect(x >= 100 && x < 300 && y >= 200 && y < 400).toBe(true);
      }
    }
    expect(count).toBe(200 * 200);
  });
});

describe("preprocessForSam", () => {
  it("normalises, replicates to RGB with ImageNet stats, and zero-pads bottom/right", () => {
    const width = 200;
    const height = 100;
    const data = new Uint16Array(width * height);
    for (let i = 0; i < data.length; i++) data[i] = 1000 + (i % width) * 10;
    const { tensor, dims, geometry } = preprocessForSam({ data, width, height });
    expect(dims).toEqual([1, 3, 1024, 1024]);
    expect(geometry).toMatchObject({ resizedWidth: 1024, resizedHeight: 512 });
    const plane = 1024 * 1024;
    // Left edge is below the 2 % percentile -> 0 on the 0–255 scale.
    for (let c = 0; c < 3; c++) {
      expect(tensor[c * plane + 10 * 1024 + 0]).toBeCloseTo((0 - SAM_PIXEL_MEAN[c]) / SAM_PIXEL_STD[c], 4);
      expect(tensor[c * plane + 10 * 1024 + 1023]).toBeCloseTo((255 - SAM_PIXEL_MEAN[c]) / SAM_PIXEL_STD[c], 4);
      // Padding rows.
      expect(tensor[c * plane + 600 * 1024 + 500]).toBe(0);
    }
  });

  it("antialiased resize preserves the mean of a halved image", () => {
    const src = new Float32Array(64 * 64);
    for (let i = 0; i < src.length; i++) src[i] = (i * 2654435761) % 97;
    const out = resizeBilinear(src, 64, 64, 32, 32);
    const mean = (a: Float32Array): number => a.reduce((s, v) => s + v, 0) / a.length;
    expect(mean(out)).toBeCloseTo(mean(src), 0);
    // A 2:1 triangle filter averages over 4 px, shrinking noise variance.
    const variance = (a: Float32Array): number => {
      const m = mean(a);
      return a.reduce((s, v) => s + (v - m) ** 2, 0) / a.length;
    };
    expect(variance(out)).toBeLessThan(variance(src) / 2);
  });
});
