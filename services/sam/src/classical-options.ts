import type { ClassicalOptions } from "@gently/detection";

/**
 * Classical-stage settings for an image of a given pixel size. A C. elegans
 * embryo is about 50 × 30 µm, an ellipse of ~1180 µm²: ~2800 px² at
 * 0.65 µm/px (bottom camera) but ~450 px² at 1.625 µm/px. Area limits are
 * therefore set in µm² and converted here; the lower limit drops debris and
 * noise blobs, the upper one fused clumps and illumination artefacts.
 */

export const EMBRYO_LENGTH_UM = 50;
export const EMBRYO_WIDTH_UM = 30;
export const EMBRYO_AREA_UM2 = (Math.PI / 4) * EMBRYO_LENGTH_UM * EMBRYO_WIDTH_UM;
/** a quarter of a nominal embryo: smaller blobs are debris (a tilted or partly cut embryo is still above it) */
export const DEFAULT_MIN_AREA_UM2 = 0.25 * EMBRYO_AREA_UM2;
/** three nominal embryos: larger blobs are clumps or artefacts */
export const DEFAULT_MAX_AREA_UM2 = 3 * EMBRYO_AREA_UM2;
/** CLAHE tiles span several embryo lengths, or they equalise an embryo against itself */
const CLAHE_TILE_UM = 4 * EMBRYO_LENGTH_UM;

export interface AreaLimitsUm2 {
  min_area_um2?: number;
  max_area_um2?: number;
}

export function classicalOptionsFor(
  pixelSizeUm: number,
  opts: AreaLimitsUm2 & { polarity?: "auto" | "bright" | "dark"; exclude_border?: boolean } = {},
): ClassicalOptions {
  if (!(pixelSizeUm > 0)) throw new Error(`pixel size must be positive, got ${pixelSizeUm}`);
  const pixelAreaUm2 = pixelSizeUm * pixelSizeUm;
  // One limit given: the default for the other never contradicts it.
  const minUm2 = opts.min_area_um2 ?? Math.min(DEFAULT_MIN_AREA_UM2, (opts.max_area_um2 ?? Infinity) / 2);
  const maxUm2 = opts.max_area_um2 ?? Math.max(DEFAULT_MAX_AREA_UM2, 2 * minUm2);
  return {
    polarity: opts.polarity ?? "auto",
    minAreaPixels: Math.max(1, Math.floor(minUm2 / pixelAreaUm2)),
    maxAreaPixels: Math.ceil(maxUm2 / pixelAreaUm2),
    excludeBorderTouching: opts.exclude_border ?? false,
    clahe: { tileSizePx: Math.min(1024, Math.max(64, Math.round(CLAHE_TILE_UM / pixelSizeUm))) },
    includeMasks: true,
  };
}
