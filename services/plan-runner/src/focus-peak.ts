import { argmax, peakPosition } from "./focus-score";

/**
 * Least relative rise of the best focus score over the lowest for a sweep to
 * count as having a peak. Frames of background only (a sheet that misses the
 * sample) differ by noise: on the simulator's 256-pixel crops their scores
 * spread by about 12 % over five angles, DemoCamera's by less; a sheet
 * crossing the sample's focus lifts the score by 80 % and more.
 */
export const MIN_FOCUS_CONTRAST = 0.3;

export interface FocusPoint {
  galvo_deg: number;
  score: number;
  image_uid: string;
}

export type FocusPeak =
  | { found: true; best_galvo_deg: number; best_score: number; peak_galvo_deg: number; contrast: number }
  | { found: false; reason: string; contrast: number; best_galvo_deg?: number; best_score?: number };

/**
 * The sharpest angle of a sweep, only when the scores have a peak worth the
 * name: at least three angles, a rise of MIN_FOCUS_CONTRAST over the lowest
 * score, and the best angle inside the sweep (at an end the peak may lie
 * beyond it). Otherwise `found: false` with the reason and the contrast, so
 * nothing downstream fits noise.
 */
export function findFocusPeak(points: readonly FocusPoint[]): FocusPeak {
  const scores = points.map((p) => p.score);
  const max = Math.max(...scores);
  const min = Math.min(...scores);
  const contrast = points.length > 0 && min > 0 ? (max - min) / min : 0;
  if (points.length < 3) return { found: false, reason: `a focus peak needs at least 3 angles, the sweep has ${points.length}`, contrast };
  const best = points[argmax(scores)]!;
  const known = { contrast, best_galvo_deg: best.galvo_deg, best_score: best.score };
  if (!(contrast >= MIN_FOCUS_CONTRAST)) {
    return {
      found: false,
      reason: `no focus peak: the scores vary by ${(contrast * 100).toFixed(1)} % (best ${max.toPrecision(4)}, lowest ${min.toPrecision(4)}), below the ${MIN_FOCUS_CONTRAST * 100} % of a focus peak; the sheet may miss the sample, or the galvo may not move it`,
      ...known,
    };
  }
  const sorted = [...points].sort((a, b) => a.galvo_deg - b.galvo_deg);
  if (best.galvo_deg === sorted[0]!.galvo_deg || best.galvo_deg === sorted.at(-1)!.galvo_deg) {
    return { found: false, reason: `the sharpest angle ${best.galvo_deg}° is at the end of the sweep: the peak may lie beyond it; widen the sweep`, ...known };
  }
  return { found: true, ...known, peak_galvo_deg: peakPosition(points.map((p) => p.galvo_deg), scores) };
}
