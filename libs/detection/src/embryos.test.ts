import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { pixelToStage, stageToPixel, toEmbryos, type ImageFrame } from "./embryos";
import { writeTinySamModels } from "./make-test-model";
import { detectEmbryosClassical, detectEmbryosSam } from "./pipeline";
import { SamSegmenter } from "./sam";
import { scatterEmbryos, syntheticEmbryoImage } from "./synthetic";

const frame: ImageFrame = { stage_x_um: 1000, stage_y_um: -500, pixel_size_um: 0.65, width: 2048, height: 2048 };

describe("pixel ↔ stage convention", () => {
  it("puts the image centre (the corner between the four middle pixels) at the stage position, +x right and +y down", () => {
    expect(pixelToStage(frame, 1023.5, 1023.5)).toEqual({ stage_x_um: 1000, stage_y_um: -500 });
    expect(pixelToStage(frame, 1123.5, 1023.5)).toEqual({ stage_x_um: 1065, stage_y_um: -500 });
    expect(pixelToStage(frame, 1023.5, 923.5)).toEqual({ stage_x_um: 1000, stage_y_um: -565 });
    // pixel (0, 0) is sampled at its centre, half a pixel inside the image's corner
    const corner = pixelToStage(frame, 0, 0);
    expect(corner.stage_x_um).toBeCloseTo(1000 - 1023.5 * 0.65, 9);
    expect(corner.stage_y_um).toBeCloseTo(-500 - 1023.5 * 0.65, 9);
  });

  it("mirrors flipped axes and inverts exactly", () => {
    const flipped = { ...frame, flip: { x: true } };
    expect(pixelToStage(flipped, 1123.5, 1123.5)).toEqual({ stage_x_um: 935, stage_y_um: -435 });
    for (const f of [frame, flipped, { ...frame, flip: { x: true, y: true } }]) {
      const s = pixelToStage(f, 321.5, 1777.25);
      const p = stageToPixel(f, s.stage_x_um, s.stage_y_um);
      expect(p.pixel_x).toBeCloseTo(321.5, 9);
      expect(p.pixel_y).toBeCloseTo(1777.25, 9);
    }
  });
});

describe("toEmbryos", () => {
  it("builds records from candidates and masks, skipping empty masks", () => {
    const embryos = toEmbryos(
      [
        { bbox: [100, 100, 150, 130], area_pixels: 1200, centroid_x: 124.5, centroid_y: 114.5, circularity: 0.9, score: 0.93 },
        { bbox: [0, 0, 0, 0], area_pixels: 0, centroid_x: NaN, centroid_y: NaN, circularity: 0, score: 0.5 },
        { bbox: [500, 600, 540, 640], area_pixels: 1300, centroid_x: 519.5, centroid_y: 619.5, circularity: 0.95, confidence: 1.3 },
      ],
      frame,
      { method: "sam" },
    );
    expect(embryos).toHaveLength(2);
    expect(embryos[0]).toMatchObject({ embryo_id: "embryo_1", method: "sam", pixel_x: 124.5, confidence: 0.93, source_index: 0 });
    expect(embryos[0].stage_x_um).toBeCloseTo(1000 + (124.5 + 0.5 - 1024) * 0.65, 9);
    expect(embryos[0].stage_y_um).toBeCloseTo(-500 + (114.5 + 0.5 - 1024) * 0.65, 9);
    expect(embryos[0].area_um2).toBeCloseTo(1200 * 0.65 * 0.65, 9);
    expect(embryos[1]).toMatchObject({ embryo_id: "embryo_2", confidence: 1, source_index: 2 });
    expect(() => toEmbryos([], { ...frame, pixel_size_um: 0 }, { method: "classical" })).toThrow(/pixel_size_um/);
  });
});

describe("detection flows", () => {
  const embryos = scatterEmbryos(4, 1024, 1024, 38.5, 23, 21);
  const image = syntheticEmbryoImage({ width: 1024, height: 1024, embryos, texture: 0.4, seed: 8 });
  const smallFrame: ImageFrame = { stage_x_um: 0, stage_y_um: 0, pixel_size_um: 0.65, width: 1024, height: 1024 };
  const classical = { minAreaPixels: 1000, maxAreaPixels: 10000 };

  it("classical flow places embryos at their stage positions", () => {
    const r = detectEmbryosClassical(image, smallFrame, classical);
    expect(r.embryos).toHaveLength(4);
    for (const e of embryos) {
      const expected = pixelToStage(smallFrame, e.cx, e.cy);
      const nearest = Math.min(...r.embryos.map((d) => Math.hypot(d.stage_x_um - expected.stage_x_um, d.stage_y_um - expected.stage_y_um)));
      expect(nearest).toBeLessThan(2 * 0.65);
    }
    expect(r.embryos.every((d) => d.method === "classical")).toBe(true);
  });

  it("SAM flow prompts with every candidate box and encodes once", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gently-sam-flow-"));
    const sam = await SamSegmenter.load(writeTinySamModels(dir));
    try {
      const r = await detectEmbryosSam(sam, "uid-1", image, smallFrame, { classical });
      expect(r.masks).toHaveLength(4);
      expect(sam.info().encoderRuns).toBe(1);
      for (const [i, m] of r.masks.entries()) {
        // The tiny decoder returns the padded prompt box, so the mask bbox is the candidate box grown by 20 px.
        const [x0, y0, x1, y1] = r.candidates[i].bbox;
        expect(m.bbox).toEqual([Math.max(0, x0 - 20), Math.max(0, y0 - 20), Math.min(1024, x1 + 20), Math.min(1024, y1 + 20)]);
      }
      expect(r.embryos.map((e) => e.method)).toEqual(["sam", "sam", "sam", "sam"]);
      await expect(detectEmbryosSam(sam, "uid-2", image, { ...smallFrame, width: 10 })).rejects.toThrow(/frame says/);
    } finally {
      await sam.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
