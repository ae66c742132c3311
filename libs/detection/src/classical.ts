import { gaussianBlur } from "./blur";
import { cropLabel, labelComponents, regionGeometry, type RegionGeometry } from "./components";
import { clahe, equalizeHistogram, type ClaheOptions } from "./equalize";
import { assertImage, type GrayImage } from "./image";
import { normalizePercentile, unitHistogram, percentilesFromHistogram } from "./intensity";
import { close, open } from "./morphology";

/**
 * Classical embryo candidate stage: normalise → equalise → blur → seeded hysteresis threshold → open/close →
 * 8-connected components → area filter.
 *
 * Why hysteresis: embryos cover roughly 1–3 % of a bottom-camera field, so a single threshold at the 99th
 * percentile lands inside the brightest embryos, cuts them into fragments and misses dimmer ones entirely
 * (illumination varies across the field). Here thresholds come from the blurred image's background level
 * (median) and robust noise sigma (MAD):
 *   seed = max(edge, min(P[brightnessPercentile], background + seedSigma·σ))
 *          — a pixel seeds a blob if it is in the top (100 − p) % or clearly above the noise;
 *   edge = background + max(edgeMinSigma·σ, edgeFraction·(seed − background))
 *          — blobs grow down to this level, close to the half-maximum edge of a blurred embryo.
 * A component of the edge mask is kept only if it contains a seed, so each embryo comes out whole and an
 * image without embryos yields only small noise blobs, which the area filter removes.
 *
 * Area limits depend on pixel size; callers should pass them. An embryo of ~50×30 µm is ~77×46 px
 * (~2800 px²) at 0.65 µm/px but ~31×18 px (~450 px²) at 1.625 µm/px. The defaults (5000–150000 px²) are the
 * previous system's values and suit neither case blindly.
 */

export type Polarity = "bright" | "dark" | "auto";

export interface ClassicalOptions {
  /** Whether embryos are brighter or darker than background; "auto" decides from the intensity skew. */
  polarity?: Polarity;
  /** Percentile normalisation range (percent). */
  normalizeLowPercent?: number;
  normalizeHighPercent?: number;
  /** Contrast equalisation before blurring. */
  equalize?: "clahe" | "global" | "none";
  /** CLAHE grid and clip limit; keep tiles several embryo lengths wide (default 256 px tiles). */
  clahe?: ClaheOptions;
  /** Gaussian blur sigma in pixels (0 disables). */
  blurSigmaPx?: number;
  /** Percentile of the processed image used as the seed threshold. */
  brightnessPercentile?: number;
  /** Pixels this many robust noise sigmas above background seed a blob even if below the percentile. */
  seedSigma?: number;
  /** Edge threshold = background + edgeFraction × (seed − background). */
  edgeFraction?: number;
  /** Edge threshold is at least background + this many robust noise sigmas. */
  edgeMinSigma?: number;
  /** Radius of the square element for opening then closing (0 disables). */
  morphRadiusPx?: number;
  minAreaPixels?: number;
  maxAreaPixels?: number;
  /** Drop components below this circularity: noise and debris form thin networks, embryos are ellipses (≥ 0.7). */
  minCircularity?: number;
  /** Drop components touching the image border (their centroid would be biased). */
  excludeBorderTouching?: boolean;
  /** Attach the cropped component mask to every candidate. */
  includeMasks?: boolean;
}

export interface ClassicalCandidate extends RegionGeometry {
  /** Component mask cropped to `bbox`, row-major with width bbox[2]-bbox[0]; omitted when includeMasks is false. */
  mask?: Uint8Array;
  /** Mean processed intensity inside the component (polarity-corrected, [0, 1]). */
  mean_intensity: number;
  /** Contrast-to-noise ratio: (mean − background) / noise sigma. */
  contrast_sigma: number;
  /**
   * 1 − exp(−contrast_sigma / seedSigma): 0.63 for a blob whose mean sits at the noise seed level, 0.95 at three
   * times that. A monotone, dimensionless score for ranking, not a calibrated probability.
   */
  confidence: number;
}

export interface ClassicalResult {
  candidates: ClassicalCandidate[];
  polarity: "bright" | "dark";
  /** Levels of the processed image in [0, 1] the thresholds were derived from. */
  thresholds: { background: number; noise_sigma: number; seed: number; edge: number };
  /** Components found before the seed, area and border filters. */
  components_total: number;
  timings_ms: { normalize: number; equalize: number; blur: number; threshold: number; morphology: number; components: number; total: number };
}

export const CLASSICAL_DEFAULTS = {
  polarity: "auto",
  normalizeLowPercent: 2,
  normalizeHighPercent: 98,
  equalize: "clahe",
  blurSigmaPx: 2,
  brightnessPercentile: 99,
  seedSigma: 5,
  edgeFraction: 0.5,
  edgeMinSigma: 4,
  minCircularity: 0.3,
  morphRadiusPx: 2,
  minAreaPixels: 5000,
  maxAreaPixels: 150000,
  excludeBorderTouching: false,
  includeMasks: true,
} as const satisfies Required<Omit<ClassicalOptions, "clahe">>;

/**
 * Sign of the intensity skew: embryos on a noisy background add a one-sided tail on their side of the
 * background peak, whereas noise and smooth illumination are roughly symmetric.
 */
export function detectPolarity(values: Float32Array): "bright" | "dark" {
  let mean = 0;
  for (let i = 0; i < values.length; i++) mean += values[i];
  mean /= values.length;
  let m3 = 0;
  for (let i = 0; i < values.length; i++) {
    const d = values[i] - mean;
    m3 += d * d * d;
  }
  return m3 >= 0 ? "bright" : "dark";
}

/** Median and MAD-based noise sigma of values in [0, 1], both read off one 65536-bin histogram. */
export function robustBackground(hist: Uint32Array, count: number): { median: number; sigma: number } {
  const bins = hist.length;
  const [medianBin] = percentilesFromHistogram(hist, count, [50]);
  // Grow a window around the median bin until it holds half the samples: its half-width is the MAD.
  let inside = hist[medianBin];
  let radius = 0;
  const half = Math.ceil(count / 2);
  while (inside < half && radius < bins) {
    radius++;
    if (medianBin - radius >= 0) inside += hist[medianBin - radius];
    if (medianBin + radius < bins) inside += hist[medianBin + radius];
  }
  return { median: (medianBin + 0.5) / bins, sigma: (1.4826 * radius) / bins };
}

const now = (): number => performance.now();

export function detectCandidates(image: GrayImage, options: ClassicalOptions = {}): ClassicalResult {
  assertImage(image);
  const o = { ...CLASSICAL_DEFAULTS, ...stripUndefined(options) };
  const { width, height } = image;
  const n = width * height;
  const t0 = now();

  const normalized = normalizePercentile(image, { lowPercent: o.normalizeLowPercent, highPercent: o.normalizeHighPercent });
  const polarity = o.polarity === "auto" ? detectPolarity(normalized) : o.polarity;
  if (polarity === "dark") for (let i = 0; i < n; i++) normalized[i] = 1 - normalized[i];
  const t1 = now();

  const equalized =
    o.equalize === "clahe"
      ? clahe(normalized, width, height, options.clahe)
      : o.equalize === "global"
        ? equalizeHistogram(normalized)
        : normalized;
  const t2 = now();

  const blurred = gaussianBlur(equalized, width, height, o.blurSigmaPx);
  const t3 = now();

  const hist = unitHistogram(blurred);
  const { median: background, sigma } = robustBackground(hist, n);
  const [seedBin] = percentilesFromHistogram(hist, n, [o.brightnessPercentile]);
  const seedCandidate = Math.min((seedBin + 0.5) / hist.length, background + o.seedSigma * sigma);
  const edge = background + Math.max(o.edgeMinSigma * sigma, o.edgeFraction * (seedCandidate - background));
  const seed = Math.max(edge, seedCandidate);
  const weak = new Uint8Array(n);
  for (let i = 0; i < n; i++) weak[i] = blurred[i] >= edge ? 1 : 0;
  const t4 = now();

  const cleaned = o.morphRadiusPx > 0 ? close(open(weak, width, height, o.morphRadiusPx), width, height, o.morphRadiusPx) : weak;
  const t5 = now();

  const { labels, count } = labelComponents(cleaned, width, height);
  const hasSeed = new Uint8Array(count + 1);
  const sumIntensity = new Float64Array(count + 1);
  for (let i = 0; i < n; i++) {
    const l = labels[i];
    if (!l) continue;
    sumIntensity[l] += blurred[i];
    if (blurred[i] >= seed) hasSeed[l] = 1;
  }
  const regions = regionGeometry(labels, width, height, count);
  const candidates: ClassicalCandidate[] = [];
  for (let l = 1; l <= count; l++) {
    const r = regions[l - 1];
    if (!hasSeed[l]) continue;
    if (r.area_pixels < o.minAreaPixels || r.area_pixels > o.maxAreaPixels) continue;
    if (r.circularity < o.minCircularity) continue;
    const [x0, y0, x1, y1] = r.bbox;
    if (o.excludeBorderTouching && (x0 === 0 || y0 === 0 || x1 === width || y1 === height)) continue;
    const mean = sumIntensity[l] / r.area_pixels;
    const contrastSigma = sigma > 0 ? (mean - background) / sigma : mean > background ? Infinity : 0;
    const confidence = Math.max(0, 1 - Math.exp(-contrastSigma / o.seedSigma));
    const candidate: ClassicalCandidate = { ...r, mean_intensity: mean, contrast_sigma: contrastSigma, confidence };
    if (o.includeMasks) candidate.mask = cropLabel(labels, width, l, r.bbox);
    candidates.push(candidate);
  }
  const t6 = now();

  return {
    candidates,
    polarity,
    thresholds: { background, noise_sigma: sigma, seed, edge },
    components_total: count,
    timings_ms: {
      normalize: t1 - t0,
      equalize: t2 - t1,
      blur: t3 - t2,
      threshold: t4 - t3,
      morphology: t5 - t4,
      components: t6 - t5,
      total: t6 - t0,
    },
  };
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
