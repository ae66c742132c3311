import { integerPercentiles } from "@gently/detection";
import type { Plane } from "./tiff-volume";

/** Display window: samples <= min become 0, samples >= max become 255. */
export interface Window {
  min: number;
  max: number;
}

/** Default auto-contrast percentiles: clip the darkest and brightest 0.5 %. */
export const AUTO_LOW_PERCENT = 0.5;
export const AUTO_HIGH_PERCENT = 99.5;

/** The window spanning the given percentiles of the plane's samples. */
export function autoWindow(plane: Plane, lowPercent = AUTO_LOW_PERCENT, highPercent = AUTO_HIGH_PERCENT): Window {
  const [min, max] = integerPercentiles(plane, [lowPercent, highPercent]);
  return { min, max };
}

/**
 * Maps samples linearly from [min, max] onto 0..255 (rounded, clipped)
 * through a lookup table: one table build, then one load per pixel.
 * A window with max <= min thresholds at min.
 */
export function toGray8(plane: Plane, window: Window, out = new Uint8Array(plane.length)): Uint8Array {
  const levels = plane instanceof Uint8Array ? 256 : 65536;
  const lut = new Uint8Array(levels);
  const { min, max } = window;
  const span = max - min;
  for (let v = 0; v < levels; v++) {
    if (v <= min) lut[v] = 0;
    else if (v >= max) lut[v] = 255;
    else lut[v] = Math.round(((v - min) * 255) / span);
  }
  for (let i = 0; i < plane.length; i++) out[i] = lut[plane[i]];
  return out;
}
