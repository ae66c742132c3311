/**
 * The numbers every benchmark reports: the median of repeated timings (one
 * slow run from a GC pause or disk flush must not move it), the best run,
 * and the raw samples so a reader can judge the spread.
 */

export interface TimingStats {
  median_ms: number;
  min_ms: number;
  samples_ms: number[];
}

/** Median of the samples; the mean of the middle two for an even count. NaN when empty. */
export function median(samples: readonly number[]): number {
  if (samples.length === 0) return Number.NaN;
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Median, minimum and the samples (in the order they were taken). */
export function timingStats(samples: number[]): TimingStats {
  const fastest = samples.reduce((min, ms) => (ms < min ? ms : min), Number.POSITIVE_INFINITY);
  return { median_ms: median(samples), min_ms: samples.length ? fastest : Number.NaN, samples_ms: samples };
}

/** The p-th percentile (0-100) by the nearest-rank method: a p99 of 1000 samples is the 990th smallest. NaN when empty. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
