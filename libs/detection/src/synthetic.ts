import type { GrayImage } from "./image";

/**
 * Synthetic bottom-camera images with elliptical "embryos" for tests and benchmarks. Deterministic for a
 * given seed so a failing test reproduces.
 */

export interface SyntheticEmbryo {
  cx: number;
  cy: number;
  semiMajorPx: number;
  semiMinorPx: number;
  angleRad: number;
}

export interface SyntheticImageOptions {
  width: number;
  height: number;
  embryos: readonly SyntheticEmbryo[];
  /** Background level in counts. */
  background?: number;
  /** Embryo minus background in counts; negative for embryos darker than background. */
  contrast?: number;
  /** Gaussian read noise sigma in counts. */
  noiseSigma?: number;
  /** Relative amplitude (0..1) of cell-like texture inside embryos; texture only ever dims the embryo. */
  texture?: number;
  /** Linear illumination fall-off across x, as a fraction of background at the right edge. */
  illuminationGradient?: number;
  seed?: number;
}

/** mulberry32: tiny, fast, seedable PRNG. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function syntheticEmbryoImage(options: SyntheticImageOptions): GrayImage & { data: Uint16Array } {
  const { width, height, embryos } = options;
  const background = options.background ?? 1000;
  const contrast = options.contrast ?? 600;
  const noiseSigma = options.noiseSigma ?? 40;
  const texture = options.texture ?? 0;
  const gradient = options.illuminationGradient ?? 0;
  const random = seededRandom(options.seed ?? 1);
  const signal = new Float32Array(width * height);

  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) signal[y * width + x] = background * (1 - (gradient * x) / width);
  }
  for (const e of embryos) {
    const cos = Math.cos(e.angleRad);
    const sin = Math.sin(e.angleRad);
    const r = Math.ceil(e.semiMajorPx) + 1;
    for (let y = Math.max(0, Math.floor(e.cy - r)); y <= Math.min(height - 1, Math.ceil(e.cy + r)); y++) {
      for (let x = Math.max(0, Math.floor(e.cx - r)); x <= Math.min(width - 1, Math.ceil(e.cx + r)); x++) {
        // Pixel centres at integer coordinates, matching the centroid convention of the detector.
        const dx = x - e.cx;
        const dy = y - e.cy;
        const u = (dx * cos + dy * sin) / e.semiMajorPx;
        const v = (-dx * sin + dy * cos) / e.semiMinorPx;
        if (u * u + v * v > 1) continue;
        const cells = 0.5 + 0.5 * Math.sin(dx * 0.45) * Math.sin(dy * 0.45);
        signal[y * width + x] += contrast * (1 - texture * cells);
      }
    }
  }

  const data = new Uint16Array(width * height);
  for (let i = 0; i < data.length; i++) {
    // Box–Muller normal noise.
    const g = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    data[i] = Math.max(0, Math.min(65535, Math.round(signal[i] + noiseSigma * g)));
  }
  return { data, width, height };
}

/** Non-overlapping embryos laid out on a jittered grid, away from the borders. */
export function scatterEmbryos(
  count: number,
  width: number,
  height: number,
  semiMajorPx: number,
  semiMinorPx: number,
  seed = 7,
): SyntheticEmbryo[] {
  const random = seededRandom(seed);
  const cols = Math.ceil(Math.sqrt(count));
  const rows = Math.ceil(count / cols);
  const cellW = width / cols;
  const cellH = height / rows;
  const margin = semiMajorPx + 4;
  const embryos: SyntheticEmbryo[] = [];
  for (let i = 0; i < count; i++) {
    const col = i % cols;
    const row = Math.floor(i / cols);
    const jitterX = Math.max(0, cellW / 2 - margin);
    const jitterY = Math.max(0, cellH / 2 - margin);
    embryos.push({
      cx: (col + 0.5) * cellW + (random() * 2 - 1) * jitterX,
      cy: (row + 0.5) * cellH + (random() * 2 - 1) * jitterY,
      semiMajorPx,
      semiMinorPx,
      angleRad: random() * Math.PI,
    });
  }
  return embryos;
}
