import { describe, expect, it } from "vitest";
import { PREVIEW_MAX_SIDE } from "@gently/protocol";
import { reduceFrame } from "./preview";

describe("reduceFrame (the preview's pixels)", () => {
  it("keeps frames that fit as they are", () => {
    const frame = Uint16Array.from({ length: 4 * 3 }, (_, i) => i * 10);
    expect(reduceFrame(frame, 4, 3)).toEqual({ width: 4, height: 3, bin: 1, pixels: frame, min: 0, max: 110 });
  });

  it("averages bin × bin blocks to ≤ 512 px, edge blocks over the pixels they cover", () => {
    // 1030 × 4: bin 3 (1030 / 512 > 2), 344 × 2 blocks; the last column block covers one pixel, the last row block one row
    const width = 1030;
    const height = 4;
    const frame = Uint16Array.from({ length: width * height }, (_, i) => (i % width) + 1000 * Math.floor(i / width));
    const r = reduceFrame(frame, width, height);
    expect([r.width, r.height, r.bin]).toEqual([344, 2, 3]);
    expect(Math.max(r.width, r.height)).toBeLessThanOrEqual(PREVIEW_MAX_SIDE);
    // block (0,0): x 0..2, y 0..2 → mean of x (1) + mean of 1000·y (1000)
    expect(r.pixels[0]).toBe(1 + 1000);
    // block (343,0): x 1029 only, y 0..2
    expect(r.pixels[343]).toBe(1029 + 1000);
    // block (0,1): x 0..2, y 3 only
    expect(r.pixels[344]).toBe(1 + 3000);
    expect([r.min, r.max]).toEqual([1001, 1029 + 3000]);
  });

  it("takes 8-bit frames too", () => {
    const frame = new Uint8Array(1024 * 2).fill(200);
    expect(reduceFrame(frame, 1024, 2)).toMatchObject({ width: 512, height: 1, bin: 2, min: 200, max: 200 });
  });
});
