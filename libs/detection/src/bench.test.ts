import { describe, expect, it } from "vitest";
import { benchDetection } from "./bench";

describe("benchDetection", () => {
  it("reports every stage on a reduced image", async () => {
    const r = await benchDetection({ sizePx: 512, repeats: 2, embryos: 4 });
    expect(r.image_size_px).toBe(512);
    expect(r.classical.candidates_found).toBe(4);
    for (const s of [r.classical, r.sam_preprocess, r.sam_encoder, r.sam_decoder, r.sam_segment_box]) {
      expect(s.samples_ms).toHaveLength(2);
      expect(s.median_ms).toBeGreaterThan(0);
      expect(s.min_ms).toBeLessThanOrEqual(s.median_ms);
    }
  });
});
