import type { DetectionResult } from "@gently/detection";

export interface LabelMask {
  /** row-major, 0 = background, embryo k (0-based in result.embryos) = k + 1 */
  data: Uint8Array | Uint16Array;
  dtype: "uint8" | "uint16";
  width: number;
  height: number;
  labels: number;
}

/**
 * One label image for all embryos of a detection: SAM's full-size masks, or
 * the classical components (cropped to their boxes). Where two SAM masks
 * overlap, the pixel keeps the earlier embryo's label, so labels never
 * overwrite one another. uint8 while the labels fit, else uint16.
 */
export function labelMaskOf(result: DetectionResult, width: number, height: number): LabelMask {
  const labels = result.embryos.length;
  if (labels > 65_535) throw new Error(`${labels} embryos do not fit a uint16 label mask`);
  const dtype = labels <= 255 ? "uint8" : "uint16";
  const data = dtype === "uint8" ? new Uint8Array(width * height) : new Uint16Array(width * height);
  result.embryos.forEach((embryo, k) => {
    const label = k + 1;
    if (result.method === "sam") {
      const m = result.masks[embryo.source_index];
      if (!m || m.width !== width || m.height !== height) throw new Error(`SAM mask ${embryo.source_index} is missing or not ${width}x${height}`);
      const [x0, y0, x1, y1] = m.bbox;
      for (let y = y0; y < y1; y++) {
        for (let i = y * width + x0, end = y * width + x1; i < end; i++) if (m.mask[i] && data[i] === 0) data[i] = label;
      }
    } else {
      const c = result.candidates[embryo.source_index];
      if (!c?.mask) throw new Error(`classical candidate ${embryo.source_index} has no mask`);
      const [x0, y0, x1] = c.bbox;
      const w = x1 - x0;
      for (let j = 0; j < c.mask.length; j++) {
        if (!c.mask[j]) continue;
        const i = (y0 + Math.floor(j / w)) * width + x0 + (j % w);
        if (data[i] === 0) data[i] = label;
      }
    }
  });
  return { data, dtype, width, height, labels };
}
