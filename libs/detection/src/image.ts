/**
 * Grayscale image shared by the classical stage and the SAM pipeline.
 * Row-major, `data[y * width + x]`; uint16 for camera snaps and max projections, uint8 for 8-bit exports.
 */
export interface GrayImage {
  data: Uint16Array | Uint8Array;
  width: number;
  height: number;
}

/**
 * Bounding box in pixel-edge coordinates, half-open: pixels x0..x1-1 and y0..y1-1 are inside.
 * Edge coordinates make the resize maps exact (an edge at x maps to x * scale) and width = x1 - x0.
 */
export type BBox = [x0: number, y0: number, x1: number, y1: number];

export function assertImage(image: GrayImage): void {
  const { data, width, height } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new Error(`image dimensions must be positive integers, got ${width}x${height}`);
  }
  if (data.length !== width * height) {
    throw new Error(`image data length ${data.length} does not match ${width}x${height} = ${width * height}`);
  }
}
