import { describe, expect, it } from "vitest";
import { benchHardware } from "./hardware-bench";

describe("hardware bench", () => {
  it("measures every row through the real paths (few frames here; the project bench runs the full size)", async () => {
    const rows = await benchHardware({ frames: 4, copies: 4 });
    expect(rows.map((r) => r.unit)).toEqual(["frames/s", "frames/s", "frames/s", "frames/s", "GB/s", "GB/s"]);
    // 2048 rows at 10 ms: the readout (~10 ms) and the exposure overlap, ~100 frames/s
    expect(rows[0].value).toBeGreaterThan(95);
    expect(rows[0].value).toBeLessThan(101);
    expect(rows[1].value, "the sim never runs faster than its camera").toBeLessThan(rows[0].value * 1.02);
    for (const row of rows) {
      expect(Number.isFinite(row.value) && row.value > 0, row.name).toBe(true);
      expect(Number.isFinite(row.ratio_vs_baseline) && row.ratio_vs_baseline > 0, row.name).toBe(true);
    }
  });
});
