import { describe, expect, it } from "vitest";
import { cropLabel, labelComponents, maskGeometry, regionGeometry } from "./components";

function maskFrom(rows: string[]): { mask: Uint8Array; width: number; height: number } {
  const width = rows[0].length;
  const mask = new Uint8Array(width * rows.length);
  rows.forEach((r, y) => [...r].forEach((ch, x) => (mask[y * width + x] = ch === "#" ? 1 : 0)));
  return { mask, width, height: rows.length };
}

describe("labelComponents", () => {
  it("joins diagonal neighbours (8-connectivity) and merges U shapes", () => {
    const { mask, width, height } = maskFrom([
      "#.....#.#",
      ".#....#.#",
      "..#...###",
      ".........",
      "##.......",
    ]);
    const { labels, count } = labelComponents(mask, width, height);
    expect(count).toBe(3);
    expect(labels[0]).toBe(1);
    expect(labels[2 * width + 2]).toBe(1);
    // The U closes only on its bottom row, so the two arms must be merged into one label.
    expect(labels[6]).toBe(labels[8]);
    expect(labels[6]).toBe(2);
    expect(labels[4 * width]).toBe(3);
  });

  it("reports area, half-open bbox and centroid", () => {
    const { mask, width, height } = maskFrom(["......", ".###..", ".###..", "......"]);
    const { labels, count } = labelComponents(mask, width, height);
    const [r] = regionGeometry(labels, width, height, count);
    expect(r.area_pixels).toBe(6);
    expect(r.bbox).toEqual([1, 1, 4, 3]);
    expect(r.centroid_x).toBe(2);
    expect(r.centroid_y).toBe(1.5);
    expect(Array.from(cropLabel(labels, width, 1, r.bbox))).toEqual([1, 1, 1, 1, 1, 1]);
  });

  it("gives discs circularity near 1 and thin bars a low one", () => {
    const size = 201;
    const disc = new Uint8Array(size * size);
    for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) disc[y * size + x] = Math.hypot(x - 100, y - 100) <= 60 ? 1 : 0;
    const g = maskGeometry(disc, size, size);
    expect(g.perimeter_pixels).toBeGreaterThan(2 * Math.PI * 60 * 0.95);
    expect(g.perimeter_pixels).toBeLessThan(2 * Math.PI * 60 * 1.05);
    expect(g.circularity).toBeGreaterThan(0.9);
    const bar = new Uint8Array(size * size);
    for (let x = 10; x < 190; x++) for (let y = 98; y < 102; y++) bar[y * size + x] = 1;
    expect(maskGeometry(bar, size, size).circularity).toBeLessThan(0.2);
  });
});
