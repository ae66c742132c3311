import type { BBox } from "./image";

/**
 * Per-embryo results in image and stage coordinates.
 *
 * Axis convention (fixed, no parameters): the image centre is the stage position; +x to the right in the
 * image is +x on the stage and +y down in the image is +y on the stage. Pixel (row i, column j) of a
 * W×H image maps to
 *   stage_x_um = stage_x_um0 + (j − W/2) · pixel_size_um
 *   stage_y_um = stage_y_um0 + (i − H/2) · pixel_size_um
 * with sub-pixel centroids used as (j, i). `flip` mirrors an axis for a camera mounted mirrored relative to
 * the stage.
 */

export type DetectionMethod = "sam" | "classical";

export interface ImageFrame {
  /** Stage position at which the image was taken (= image centre). */
  stage_x_um: number;
  stage_y_um: number;
  pixel_size_um: number;
  width: number;
  height: number;
  flip?: { x?: boolean; y?: boolean };
}

export interface EmbryoSourceBase {
  bbox: BBox;
  area_pixels: number;
  centroid_x: number;
  centroid_y: number;
  circularity: number;
}

/** A classical candidate (carries `confidence`) or a SAM mask result (carries the predicted IoU `score`). */
export type EmbryoSource = EmbryoSourceBase & ({ confidence: number } | { score: number });

export interface Embryo {
  embryo_id: string;
  method: DetectionMethod;
  /** Centroid in pixel-index coordinates (column, row). */
  pixel_x: number;
  pixel_y: number;
  /** Half-open pixel box [x0, y0, x1, y1]. */
  bbox: BBox;
  area_pixels: number;
  area_um2: number;
  circularity: number;
  /** Classical: contrast-based confidence; SAM: predicted IoU. In [0, 1]. */
  confidence: number;
  stage_x_um: number;
  stage_y_um: number;
  /** Index of the candidate or mask this embryo came from. */
  source_index: number;
}

export interface ToEmbryosOptions {
  method: DetectionMethod;
  /** Ids are `${idPrefix}${n}`, n = 1.. in input order (empty masks skipped). */
  idPrefix?: string;
}

function assertFrame(frame: ImageFrame): void {
  if (!(frame.pixel_size_um > 0)) throw new Error(`pixel_size_um must be positive, got ${frame.pixel_size_um}`);
  if (!(frame.width > 0 && frame.height > 0)) throw new Error(`frame size must be positive, got ${frame.width}x${frame.height}`);
  if (!Number.isFinite(frame.stage_x_um) || !Number.isFinite(frame.stage_y_um)) {
    throw new Error(`stage position must be finite, got (${frame.stage_x_um}, ${frame.stage_y_um})`);
  }
}

/** Pixel index j covers [j, j+1): its centre, where the camera samples, is at j + 0.5. */
const PIXEL_CENTRE = 0.5;

export function pixelToStage(frame: ImageFrame, pixelX: number, pixelY: number): { stage_x_um: number; stage_y_um: number } {
  const sx = frame.flip?.x ? -1 : 1;
  const sy = frame.flip?.y ? -1 : 1;
  return {
    stage_x_um: frame.stage_x_um + sx * (pixelX + PIXEL_CENTRE - frame.width / 2) * frame.pixel_size_um,
    stage_y_um: frame.stage_y_um + sy * (pixelY + PIXEL_CENTRE - frame.height / 2) * frame.pixel_size_um,
  };
}

/** Inverse of pixelToStage: where a stage position appears in the image. */
export function stageToPixel(frame: ImageFrame, stageXUm: number, stageYUm: number): { pixel_x: number; pixel_y: number } {
  const sx = frame.flip?.x ? -1 : 1;
  const sy = frame.flip?.y ? -1 : 1;
  return {
    pixel_x: frame.width / 2 - PIXEL_CENTRE + (sx * (stageXUm - frame.stage_x_um)) / frame.pixel_size_um,
    pixel_y: frame.height / 2 - PIXEL_CENTRE + (sy * (stageYUm - frame.stage_y_um)) / frame.pixel_size_um,
  };
}

/** Converts candidates or SAM masks into embryo records; zero-area masks (nothing segmented) are skipped. */
export function toEmbryos(items: readonly EmbryoSource[], frame: ImageFrame, options: ToEmbryosOptions): Embryo[] {
  assertFrame(frame);
  const prefix = options.idPrefix ?? "embryo_";
  const embryos: Embryo[] = [];
  for (const [index, item] of items.entries()) {
    if (!(item.area_pixels > 0)) continue;
    const confidence = "confidence" in item ? item.confidence : item.score;
    embryos.push({
      embryo_id: `${prefix}${embryos.length + 1}`,
      method: options.method,
      pixel_x: item.centroid_x,
      pixel_y: item.centroid_y,
      bbox: [...item.bbox] as BBox,
      area_pixels: item.area_pixels,
      area_um2: item.area_pixels * frame.pixel_size_um * frame.pixel_size_um,
      circularity: item.circularity,
      confidence: Math.min(1, Math.max(0, confidence)),
      ...pixelToStage(frame, item.centroid_x, item.centroid_y),
      source_index: index,
    });
  }
  return embryos;
}
