import type { BBox } from "./image";

/**
 * Coordinate maps between an original image and SAM's model frame: the longest side is resized to 1024
 * (other side rounded as SAM's ResizeLongestSide does, floor(x·scale + 0.5)), then the image is zero-padded
 * at the bottom/right to 1024×1024.
 *
 * Points and box edges use continuous pixel-edge coordinates (pixel j spans [j, j+1)), so an edge at x maps
 * to x · resizedWidth / width. Per-axis ratios (resized/original) are used, as SAM's apply_coords does,
 * which matters when rounding makes them differ slightly from the nominal scale.
 */

export const SAM_INPUT_SIZE = 1024;

export interface SamGeometry {
  originalWidth: number;
  originalHeight: number;
  resizedWidth: number;
  resizedHeight: number;
  /** Side of the padded square model input. */
  inputSize: number;
}

export function samGeometry(width: number, height: number, inputSize = SAM_INPUT_SIZE): SamGeometry {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new Error(`image dimensions must be positive integers, got ${width}x${height}`);
  }
  const scale = inputSize / Math.max(width, height);
  return {
    originalWidth: width,
    originalHeight: height,
    resizedWidth: Math.floor(width * scale + 0.5),
    resizedHeight: Math.floor(height * scale + 0.5),
    inputSize,
  };
}

/** Original-frame point → model-frame point. */
export function toModelPoint(g: SamGeometry, x: number, y: number): [number, number] {
  return [(x * g.resizedWidth) / g.originalWidth, (y * g.resizedHeight) / g.originalHeight];
}

/** Model-frame point → original-frame point (inverse of toModelPoint). */
export function toOriginalPoint(g: SamGeometry, x: number, y: number): [number, number] {
  return [(x * g.originalWidth) / g.resizedWidth, (y * g.originalHeight) / g.resizedHeight];
}

export function toModelBox(g: SamGeometry, box: BBox): BBox {
  const [x0, y0] = toModelPoint(g, box[0], box[1]);
  const [x1, y1] = toModelPoint(g, box[2], box[3]);
  return [x0, y0, x1, y1];
}

export function toOriginalBox(g: SamGeometry, box: BBox): BBox {
  const [x0, y0] = toOriginalPoint(g, box[0], box[1]);
  const [x1, y1] = toOriginalPoint(g, box[2], box[3]);
  return [x0, y0, x1, y1];
}

/** Grows a box by `paddingPx` on every side and clips it to the image; integer edges in, integer edges out. */
export function padBox(box: BBox, paddingPx: number, width: number, height: number): BBox {
  const [x0, y0, x1, y1] = box;
  if (!(x1 > x0 && y1 > y0)) throw new Error(`box [${box.join(", ")}] is empty or inverted`);
  return [
    Math.max(0, Math.floor(x0 - paddingPx)),
    Math.max(0, Math.floor(y0 - paddingPx)),
    Math.min(width, Math.ceil(x1 + paddingPx)),
    Math.min(height, Math.ceil(y1 + paddingPx)),
  ];
}

/**
 * Maps a mask (or logits) given over the padded square model frame — at any resolution `side`×`side`,
 * e.g. 256 for SAM's low-res masks or 1024 — back to the original image, thresholding at `threshold`.
 * Each original pixel samples the model-frame cell containing its centre (nearest neighbour), so a
 * rectangle [X0, X1) in the model frame that is the image of original edges [x0, x1) comes back as exactly
 * pixels x0..x1-1.
 */
export function maskToOriginal(
  g: SamGeometry,
  frame: Float32Array | Uint8Array,
  side: number,
  threshold = 0,
): Uint8Array {
  if (frame.length !== side * side) throw new Error(`model-frame mask length ${frame.length} != ${side}x${side}`);
  const { originalWidth: w, originalHeight: h } = g;
  const cellsPerModelPx = side / g.inputSize;
  const columns = new Int32Array(w);
  for (let x = 0; x < w; x++) {
    columns[x] = Math.min(side - 1, Math.floor(((x + 0.5) * g.resizedWidth * cellsPerModelPx) / w));
  }
  const out = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    const row = Math.min(side - 1, Math.floor(((y + 0.5) * g.resizedHeight * cellsPerModelPx) / h)) * side;
    const dst = y * w;
    for (let x = 0; x < w; x++) out[dst + x] = frame[row + columns[x]] > threshold ? 1 : 0;
  }
  return out;
}
