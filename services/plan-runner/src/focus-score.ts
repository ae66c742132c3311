import { powerSpectrum2d } from "./fft";

/** The band of the spectrum whose energy measures focus: 2.5-14 % of the spectrum's width (Micro-Manager's FFT band-pass defaults). */
export const FOCUS_BAND = { low: 0.025, high: 0.14 } as const;

/** Largest side of the centred crop that is scored: enough texture, and fast. */
const MAX_CROP = 256;

/** A 2-D image as the focus score reads it: row-major, any integer pixel type. */
export interface Image2d {
  width: number;
  height: number;
  data: ArrayLike<number>;
}

/**
 * Sharpness of a frame: the fraction of its (mean-free) spectral energy that
 * lies in the focus band, from a centred power-of-two square crop. In focus,
 * fine structure (nuclei) puts energy in the band; defocus moves it towards
 * DC. A ratio, so brightness and exposure do not change it.
 */
export function focusScore(image: Image2d, band = FOCUS_BAND): number {
  const side = Math.min(image.width, image.height, MAX_CROP);
  if (side < 8) throw new Error(`image ${image.width}x${image.height} is too small to score focus`);
  const size = 2 ** Math.floor(Math.log2(side));
  const x0 = Math.floor((image.width - size) / 2);
  const y0 = Math.floor((image.height - size) / 2);
  const crop = new Float64Array(size * size);
  let sum = 0;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const v = Number(image.data[(y0 + y) * image.width + x0 + x]);
      crop[y * size + x] = v;
      sum += v;
    }
  }
  const mean = sum / crop.length;
  for (let i = 0; i < crop.length; i++) crop[i] = crop[i]! - mean;
  const power = powerSpectrum2d(crop, size);
  let inBand = 0;
  let total = 0;
  const lowPx = band.low * size;
  const highPx = band.high * size;
  for (let ky = 0; ky < size; ky++) {
    const fy = ky <= size / 2 ? ky : ky - size;
    for (let kx = 0; kx < size; kx++) {
      if (kx === 0 && ky === 0) continue;
      const fx = kx <= size / 2 ? kx : kx - size;
      const p = power[ky * size + kx]!;
      total += p;
      const r = Math.hypot(fx, fy);
      if (r >= lowPx && r <= highPx) inBand += p;
    }
  }
  return total > 0 ? inBand / total : 0;
}

/** Index of the highest score (first on ties). */
export function argmax(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/**
 * Position of the peak between sampled points: the vertex of the parabola
 * through the best sample and its neighbours (any spacing), kept within them;
 * the best sample itself when it sits at an end of the sweep.
 */
export function peakPosition(positions: readonly number[], scores: readonly number[]): number {
  const order = positions.map((_, i) => i).sort((a, b) => positions[a]! - positions[b]!);
  const x = order.map((i) => positions[i]!);
  const y = order.map((i) => scores[i]!);
  const b = argmax(y);
  if (b === 0 || b === x.length - 1) return x[b]!;
  const [x0, x1, x2] = [x[b - 1]!, x[b]!, x[b + 1]!];
  const [y0, y1, y2] = [y[b - 1]!, y[b]!, y[b + 1]!];
  const denom = (x0 - x1) * (x0 - x2) * (x1 - x2);
  const a = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / denom;
  const bb = (x2 * x2 * (y0 - y1) + x1 * x1 * (y2 - y0) + x0 * x0 * (y1 - y2)) / denom;
  if (!(a < 0)) return x1;
  return Math.min(x2, Math.max(x0, -bb / (2 * a)));
}
