import { describe, expect, it } from "vitest";
import { benchSam } from "./sam-bench";

describe("benchSam", () => {
  it("runs whole detect requests through a real nats-server on a reduced image and finds every placed embryo", async () => {
    const r = await benchSam({ sizePx: 512, embryos: 4, repeats: 2 });
    expect(r.image_size_px).toBe(512);
    expect(r.classical.candidates_found).toBe(4);
    for (const d of [r.detect_classical, r.detect_sam_cold, r.detect_sam_warm]) {
      expect(d.embryos_found).toBe(4);
      expect(d.per_image.samples_ms).toHaveLength(2);
      expect(d.detections_per_s).toBeCloseTo((4 * 1000) / d.per_image.median_ms, 6);
    }
    for (const s of [r.sam_encoder, r.sam_decoder]) expect(s.median_ms).toBeGreaterThan(0);
  });
});
