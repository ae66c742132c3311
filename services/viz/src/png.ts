import { encode } from "fast-png";

/**
 * zlib level 1: a viewer PNG is read once and thrown away, so encoding
 * speed matters more than the last few percent of size.
 */
export const PNG_ZLIB_LEVEL = 1;

/** One 8-bit grey plane as a PNG. */
export function encodeGray8Png(pixels: Uint8Array, width: number, height: number): Uint8Array {
  return encode({ width, height, data: pixels, depth: 8, channels: 1 }, { zlib: { level: PNG_ZLIB_LEVEL } });
}
