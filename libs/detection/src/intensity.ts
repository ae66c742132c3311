import { assertImage, type GrayImage } from "./image";

/**
 * Exact percentile of integer pixel values via a full histogram (65536 bins for uint16, 256 for uint8):
 * O(n) with no sort and no per-pixel allocation, which matters on 4-megapixel snaps.
 * `percent` is in [0, 100]; the result is the smallest value v with at least percent% of pixels <= v.
 */
export function integerPercentiles(data: Uint16Array | Uint8Array, percents: readonly number[]): number[] {
  const bins = data instanceof Uint8Array ? 256 : 65536;
  const hist = new Uint32Array(bins);
  for (let i = 0; i < data.length; i++) hist[data[i]]++;
  return percentilesFromHistogram(hist, data.length, percents);
}

/** Percentiles (as bin indices) from a histogram holding `count` samples. */
export function percentilesFromHistogram(hist: Uint32Array, count: number, percents: readonly number[]): number[] {
  return percents.map((p) => {
    if (!(p >= 0 && p <= 100)) throw new Error(`percentile must be within [0, 100], got ${p}`);
    // Rank is 1-based: at least `rank` samples must be <= the answer.
    const rank = Math.max(1, Math.ceil((p / 100) * count));
    let cumulative = 0;
    for (let v = 0; v < hist.length; v++) {
      cumulative += hist[v];
      if (cumulative >= rank) return v;
    }
    return hist.length - 1;
  });
}

export interface NormalizeOptions {
  lowPercent?: number;
  highPercent?: number;
}

/**
 * Percentile normalisation: maps the low..high percentile range (default 2–98 %) linearly onto [0, 1] and clips.
 * A flat image (low == high) maps to all zeros rather than dividing by zero.
 */
export function normalizePercentile(image: GrayImage, options: NormalizeOptions = {}, out?: Float32Array): Float32Array {
  assertImage(image);
  const lowPercent = options.lowPercent ?? 2;
  const highPercent = options.highPercent ?? 98;
  if (!(lowPercent < highPercent)) throw new Error(`lowPercent ${lowPercent} must be below highPercent ${highPercent}`);
  const [lo, hi] = integerPercentiles(image.data, [lowPercent, highPercent]);
  const n = image.data.length;
  const result = out ?? new Float32Array(n);
  if (result.length !== n) throw new Error(`output length ${result.length} does not match image size ${n}`);
  if (hi <= lo) {
    result.fill(0);
    return result;
  }
  // A lookup table over the integer range avoids a divide and two compares per pixel.
  const bins = image.data instanceof Uint8Array ? 256 : 65536;
  const lut = new Float32Array(bins);
  const inv = 1 / (hi - lo);
  for (let v = 0; v < bins; v++) lut[v] = v <= lo ? 0 : v >= hi ? 1 : (v - lo) * inv;
  const data = image.data;
  for (let i = 0; i < n; i++) result[i] = lut[data[i]];
  return result;
}

/** Histogram of values in [0, 1] with `bins` equal bins (values outside are clamped into the end bins). */
export function unitHistogram(values: Float32Array, bins = 65536): Uint32Array {
  const hist = new Uint32Array(bins);
  const top = bins - 1;
  for (let i = 0; i < values.length; i++) {
    let b = Math.floor(values[i] * bins);
    if (b < 0) b = 0;
    else if (b > top) b = top;
    hist[b]++;
  }
  return hist;
}

/** Percentiles of values in [0, 1], resolved to bin centres of a 65536-bin histogram (error <= 8e-6). */
export function unitPercentiles(values: Float32Array, percents: readonly number[], hist?: Uint32Array): number[] {
  const h = hist ?? unitHistogram(values);
  return percentilesFromHistogram(h, values.length, percents).map((b) => (b + 0.5) / h.length);
}
