import type { Plane } from "@gently/preview";

/**
 * Mean of each bin×bin block (rounded), dropping the partial blocks at the
 * right and bottom edges: a viewer showing a 2048-pixel plane in 700 screen
 * pixels needs a quarter of the pixels, and the PNG encoder is the cost.
 */
export function binPlane(plane: Plane, width: number, height: number, bin: number): { plane: Plane; width: number; height: number } {
  if (bin === 1) return { plane, width, height };
  const outWidth = Math.floor(width / bin);
  const outHeight = Math.floor(height / bin);
  const out = plane instanceof Uint8Array ? new Uint8Array(outWidth * outHeight) : new Uint16Array(outWidth * outHeight);
  const sums = new Float64Array(outWidth);
  const area = bin * bin;
  for (let oy = 0; oy < outHeight; oy++) {
    sums.fill(0);
    for (let y = oy * bin; y < (oy + 1) * bin; y++) {
      const row = y * width;
      for (let ox = 0, x = 0; ox < outWidth; ox++) {
        let s = 0;
        for (const end = x + bin; x < end; x++) s += plane[row + x];
        sums[ox] += s;
      }
    }
    for (let ox = 0; ox < outWidth; ox++) out[oy * outWidth + ox] = Math.round(sums[ox] / area);
  }
  return { plane: out, width: outWidth, height: outHeight };
}
