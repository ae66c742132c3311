import { describe, expect, it } from "vitest";
import { benchHardware } from "./bench";

describe("hardware bench", () => {
  it("measures every row through the real paths (few frames here; the project bench runs the full size)", async () => {
    const rows = await benchHardware({ frames: 4, copies: 4 });
    expect(rows.map((r) => r.unit)).toEqual(["frames/s", "frames/s", "GB/s", "GB/s"]);
    for (const row of rows) {
      expect(Number.isFinite(row.value) && row.value > 0, row.name).toBe(true);
      expect(Number.isFinite(row.ratio_vs_baseline) && row.ratio_vs_baseline > 0, row.name).toBe(true);
    }
  });
});
