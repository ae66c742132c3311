import { describe, expect, it } from "vitest";
import { detectCandidates, detectPolarity } from "./classical";
import { scatterEmbryos, syntheticEmbryoImage, type SyntheticEmbryo } from "./synthetic";

// 50×30 µm embryos at 0.65 µm/px: semi-axes 38.5 × 23 px, area ≈ 2780 px².
const SEMI_MAJOR_PX = 38.5;
const SEMI_MINOR_PX = 23;
const AREA_LIMITS = { minAreaPixels: 1000, maxAreaPixels: 10000 };

function maxCentroidError(embryos: readonly SyntheticEmbryo[], found: readonly { centroid_x: number; centroid_y: number }[]): number {
  let worst = 0;
  for (const e of embryos) {
    const nearest = Math.min(...found.map((c) => Math.hypot(c.centroid_x - e.cx, c.centroid_y - e.cy)));
    worst = Math.max(worst, nearest);
  }
  return worst;
}

describe("detectCandidates", () => {
  it("finds every bright textured embryo exactly once under uneven illumination", () => {
    const embryos = scatterEmbryos(6, 1024, 1024, SEMI_MAJOR_PX, SEMI_MINOR_PX, 11);
    const image = syntheticEmbryoImage({ width: 1024, height: 1024, embryos, contrast: 500, noiseSigma: 60, texture: 0.5, illuminationGradient: 0.3, seed: 3 });
    const result = detectCandidates(image, AREA_LIMITS);
    expect(result.polarity).toBe("bright");
    expect(result.candidates).toHaveLength(6);
    expect(maxCentroidError(embryos, result.candidates)).toBeLessThan(2);
    for (const c of result.candidates) {
      // Whole blobs, not fragments: area within 15 % of the true ellipse area.
      expect(c.area_pixels).toBeGreaterThan(0.85 * Math.PI * SEMI_MAJOR_PX * SEMI_MINOR_PX);
      expect(c.area_pixels).toBeLessThan(1.15 * Math.PI * SEMI_MAJOR_PX * SEMI_MINOR_PX);
      // Ellipse with axis ratio 0.6 has circularity ≈ 0.91.
      expect(c.circularity).toBeGreaterThan(0.8);
      expect(c.circularity).toBeLessThanOrEqual(1);
      // Contrast 500 counts over noise 60 is far above the seed level.
      expect(c.contrast_sigma).toBeGreaterThan(5);
      expect(c.confidence).toBeGreaterThan(0.63);
      expect(c.confidence).toBeLessThan(1);
      const [x0, y0, x1, y1] = c.bbox;
      expect(c.mask).toBeDefined();
      expect(c.mask!.length).toBe((x1 - x0) * (y1 - y0));
      expect(c.mask!.reduce((s, v) => s + v, 0)).toBe(c.area_pixels);
    }
  });

  it("finds dark embryos with polarity auto and with polarity dark, and none with polarity bright", () => {
    const embryos = scatterEmbryos(5, 1024, 768, SEMI_MAJOR_PX, SEMI_MINOR_PX, 5);
    const image = syntheticEmbryoImage({ width: 1024, height: 768, embryos, background: 3000, contrast: -600, noiseSigma: 80, texture: 0.4, seed: 9 });
    const auto = detectCandidates(image, AREA_LIMITS);
    expect(auto.polarity).toBe("dark");
    expect(auto.candidates).toHaveLength(5);
    expect(maxCentroidError(embryos, auto.candidates)).toBeLessThan(2);
    const dark = detectCandidates(image, { ...AREA_LIMITS, polarity: "dark" });
    expect(dark.candidates).toHaveLength(5);
    const bright = detectCandidates(image, { ...AREA_LIMITS, polarity: "bright" });
    expect(bright.candidates).toHaveLength(0);
  });

  it("keeps dim embryos when bright ones fill the top percentile (embryos cover > 1 % of the field)", () => {
    // 4 embryos in 512² cover 4 % of the image; a 20 % illumination fall-off makes the right-hand pair dimmer.
    for (const seed of [1, 2, 3]) {
      const embryos = scatterEmbryos(4, 512, 512, SEMI_MAJOR_PX, SEMI_MINOR_PX, seed * 7);
      const image = syntheticEmbryoImage({ width: 512, height: 512, embryos, texture: 0.4, illuminationGradient: 0.2, seed });
      const result = detectCandidates(image, AREA_LIMITS);
      expect(result.candidates).toHaveLength(4);
      expect(maxCentroidError(embryos, result.candidates)).toBeLessThan(2);
    }
  });

  it("returns nothing for pure noise", () => {
    const image = syntheticEmbryoImage({ width: 512, height: 512, embryos: [], noiseSigma: 50, seed: 4 });
    expect(detectCandidates(image, AREA_LIMITS).candidates).toHaveLength(0);
  });

  it("applies the area limits", () => {
    const embryos = scatterEmbryos(4, 768, 768, SEMI_MAJOR_PX, SEMI_MINOR_PX, 2);
    const image = syntheticEmbryoImage({ width: 768, height: 768, embryos, seed: 5 });
    expect(detectCandidates(image, AREA_LIMITS).candidates).toHaveLength(4);
    // The previous system's defaults (5000 px² minimum) reject 0.65 µm/px embryos.
    expect(detectCandidates(image).candidates).toHaveLength(0);
    expect(detectCandidates(image, { minAreaPixels: 100, maxAreaPixels: 2000 }).candidates).toHaveLength(0);
  });

  it("drops border-touching components only when asked", () => {
    const embryos: SyntheticEmbryo[] = [
      { cx: 10, cy: 200, semiMajorPx: SEMI_MAJOR_PX, semiMinorPx: SEMI_MINOR_PX, angleRad: Math.PI / 2 },
      { cx: 300, cy: 200, semiMajorPx: SEMI_MAJOR_PX, semiMinorPx: SEMI_MINOR_PX, angleRad: 0 },
    ];
    const image = syntheticEmbryoImage({ width: 512, height: 512, embryos, seed: 6 });
    expect(detectCandidates(image, { ...AREA_LIMITS, minAreaPixels: 500 }).candidates).toHaveLength(2);
    const inner = detectCandidates(image, { ...AREA_LIMITS, minAreaPixels: 500, excludeBorderTouching: true }).candidates;
    expect(inner).toHaveLength(1);
    expect(inner[0].centroid_x).toBeCloseTo(300, 0);
  });

  it("processes a 2048×2048 uint16 snap in well under two seconds", () => {
    const embryos = scatterEmbryos(20, 2048, 2048, SEMI_MAJOR_PX, SEMI_MINOR_PX, 8);
    const image = syntheticEmbryoImage({ width: 2048, height: 2048, embryos, contrast: 500, noiseSigma: 60, texture: 0.5, seed: 12 });
    const result = detectCandidates(image, AREA_LIMITS);
    expect(result.candidates).toHaveLength(20);
    expect(maxCentroidError(embryos, result.candidates)).toBeLessThan(2);
    // Generous for a loaded 2-core CI box; typical is ~0.8 s. Catches per-pixel allocation regressions.
    expect(result.timings_ms.total).toBeLessThan(4000);
  });
});

describe("detectPolarity", () => {
  it("reads the sign of the skew", () => {
    const bright = new Float32Array(1000).fill(0.3);
    bright.fill(0.9, 0, 20);
    expect(detectPolarity(bright)).toBe("bright");
    const dark = new Float32Array(1000).fill(0.7);
    dark.fill(0.1, 0, 20);
    expect(detectPolarity(dark)).toBe("dark");
  });
});
