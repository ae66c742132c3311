import { assertImage, type GrayImage } from "./image";
import { normalizePercentile } from "./intensity";
import { resizeBilinear } from "./resize";
import { samGeometry, type SamGeometry, SAM_INPUT_SIZE } from "./sam-geometry";

/**
 * SAM encoder input from a grayscale microscope image: 2–98 % percentile normalisation to 0–255 (SAM was
 * trained on 8-bit RGB photos; a raw 16-bit range would be almost black), replicate to three channels,
 * resize the longest side to 1024, ImageNet mean/std normalisation per channel, zero padding bottom/right.
 * Output layout is float32 NCHW [1, 3, 1024, 1024].
 */

export const SAM_PIXEL_MEAN = [123.675, 116.28, 103.53] as const;
export const SAM_PIXEL_STD = [58.395, 57.12, 57.375] as const;

export interface SamInput {
  tensor: Float32Array;
  dims: [1, 3, number, number];
  geometry: SamGeometry;
}

export function preprocessForSam(image: GrayImage, inputSize = SAM_INPUT_SIZE): SamInput {
  assertImage(image);
  const geometry = samGeometry(image.width, image.height, inputSize);
  const unit = normalizePercentile(image);
  for (let i = 0; i < unit.length; i++) unit[i] *= 255;
  const resized = resizeBilinear(unit, image.width, image.height, geometry.resizedWidth, geometry.resizedHeight);

  const plane = inputSize * inputSize;
  // Zero-initialised, so the padding is 0 after normalisation, as in SAM's preprocess (pad after normalise).
  const tensor = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    const mean = SAM_PIXEL_MEAN[c];
    const invStd = 1 / SAM_PIXEL_STD[c];
    const base = c * plane;
    for (let y = 0; y < geometry.resizedHeight; y++) {
      const src = y * geometry.resizedWidth;
      const dst = base + y * inputSize;
      for (let x = 0; x < geometry.resizedWidth; x++) tensor[dst + x] = (resized[src + x] - mean) * invStd;
    }
  }
  return { tensor, dims: [1, 3, inputSize, inputSize], geometry };
}
