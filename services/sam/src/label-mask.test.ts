import { describe, expect, it } from "vitest";
import { detectEmbryosClassical, maskGeometry, scatterEmbryos, syntheticEmbryoImage, toEmbryos, type DetectionResult, type SamMaskResult } from "@gently/detection";
import { labelMaskOf } from "./label-mask";

const frame = (width: number, height: number) => ({ stage_x_um: 0, stage_y_um: 0, pixel_size_um: 1, width, height });

function boxMask(width: number, height: number, [x0, y0, x1, y1]: [number, number, number, number]): SamMaskResult {
  const mask = new Uint8Array(width * height);
  for (let y = y0; y < y1; y++) mask.fill(1, y * width + x0, y * width + x1);
  return { ...maskGeometry(mask, width, height), mask, width, height, score: 0.9, mask_index: 2, prompt_box: null };
}

function samResult(width: number, height: number, masks: SamMaskResult[]): DetectionResult {
  const base = detectEmbryosClassical({ data: new Uint16Array(width * height), width, height }, frame(width, height));
  return { ...base, method: "sam", masks, embryos: toEmbryos(masks, frame(width, height), { method: "sam" }) };
}

describe("the label mask of a detection", () => {
  it("labels each classical component with its embryo's number, exactly over the component's pixels", () => {
    const width = 400;
    const height = 300;
    const image = syntheticEmbryoImage({ width, height, embryos: scatterEmbryos(4, width, height, 30, 18), texture: 0.2 });
    const result = detectEmbryosClassical(image, frame(width, height), { minAreaPixels: 500, maxAreaPixels: 8000, clahe: { tileSizePx: 128 } });
    expect(result.embryos.length).toBe(4);
    const labels = labelMaskOf(result, width, height);
    expect(labels.dtype).toBe("uint8");
    expect(labels.labels).toBe(4);
    result.embryos.forEach((e, k) => {
      let count = 0;
      for (let i = 0; i < labels.data.length; i++) if (labels.data[i] === k + 1) count++;
      expect(count).toBe(e.area_pixels);
      expect(labels.data[Math.round(e.pixel_y) * width + Math.round(e.pixel_x)]).toBe(k + 1);
    });
  });

  it("gives an overlap of two SAM masks to the earlier embryo and skips empty masks", () => {
    const a = boxMask(50, 40, [5, 5, 25, 25]);
    const empty = boxMask(50, 40, [0, 0, 0, 0]);
    const b = boxMask(50, 40, [20, 10, 45, 35]);
    const labels = labelMaskOf(samResult(50, 40, [a, empty, b]), 50, 40);
    expect(labels.labels).toBe(2);
    expect(labels.data[7 * 50 + 7]).toBe(1);
    expect(labels.data[12 * 50 + 22]).toBe(1); // inside both: the first keeps it
    expect(labels.data[30 * 50 + 40]).toBe(2);
    expect(labels.data[0]).toBe(0);
    let second = 0;
    for (const v of labels.data) if (v === 2) second++;
    expect(second).toBe(25 * 25 - 5 * 15); // b's area minus the overlap [20,25)×[10,25)
  });

  it("switches to uint16 when the labels do not fit in a byte", () => {
    const masks = Array.from({ length: 300 }, (_, k) => boxMask(600, 2, [2 * k, 0, 2 * k + 1, 1]));
    const labels = labelMaskOf(samResult(600, 2, masks), 600, 2);
    expect(labels.dtype).toBe("uint16");
    expect(labels.data).toBeInstanceOf(Uint16Array);
    expect(labels.data[2 * 299]).toBe(300);
  });
});
