// Turning stored 16-bit samples into screen colours: lookup tables, contrast
// windows with gamma, auto contrast, histograms and the additive overlay of
// channels. Pure functions over typed arrays, shared by every view.

/** ImageJ's "fire": 32 control points, interpolated to 256 entries. */
const FIRE = {
  r: [0, 0, 1, 25, 49, 73, 98, 122, 146, 162, 173, 184, 195, 207, 217, 229, 240, 252, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255],
  g: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 14, 35, 57, 79, 101, 117, 133, 147, 161, 175, 190, 205, 219, 234, 248, 255, 255, 255, 255],
  b: [0, 61, 96, 130, 165, 192, 220, 227, 210, 181, 151, 122, 93, 64, 35, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 35, 98, 160, 223, 255],
};

function interpolated(points, i) {
  const at = (i / 255) * (points.length - 1);
  const k = Math.min(points.length - 2, Math.floor(at));
  return Math.round(points[k] + (points[k + 1] - points[k]) * (at - k));
}

/** name -> 256×3 bytes (r, g, b per level) */
export const LUTS = Object.fromEntries(
  [
    ["gray", (i) => [i, i, i]],
    ["green", (i) => [0, i, 0]],
    ["magenta", (i) => [i, 0, i]],
    ["fire", (i) => [interpolated(FIRE.r, i), interpolated(FIRE.g, i), interpolated(FIRE.b, i)]],
  ].map(([name, colour]) => {
    const table = new Uint8Array(256 * 3);
    for (let i = 0; i < 256; i++) table.set(colour(i), i * 3);
    return [name, table];
  }),
);

/** CSS colour of a LUT's brightest level, for its histogram bars. */
export function lutColour(name) {
  const t = LUTS[name];
  return `rgb(${t[765]}, ${t[766]}, ${t[767]})`;
}

/**
 * Sample value -> LUT level for a window [min, max] and gamma: values at or
 * below min are 0, at or above max 255, in between ((v − min)/(max − min))^gamma.
 */
export function levelTable(min, max, gamma) {
  const table = new Uint8Array(65536);
  const span = Math.max(1, max - min);
  for (let v = Math.max(0, Math.ceil(min)); v < 65536; v++) {
    const t = (v - min) / span;
    table[v] = t >= 1 ? 255 : Math.round(255 * Math.pow(t, gamma));
  }
  return table;
}

/**
 * Adds the coloured channels into RGBA pixels (additive overlay, clamped, as
 * fluorescence channels combine). layers: [{ values, levels, lut }], all of
 * the same size as `out` / 4.
 */
export function compose(layers, out) {
  out.fill(0);
  for (let i = 3; i < out.length; i += 4) out[i] = 255;
  for (const { values, levels, lut } of layers) {
    for (let p = 0, o = 0; p < values.length; p++, o += 4) {
      const l = levels[values[p]] * 3;
      if (l === 0) continue;
      // Uint8ClampedArray clamps the sums at 255
      out[o] += lut[l];
      out[o + 1] += lut[l + 1];
      out[o + 2] += lut[l + 2];
    }
  }
  return out;
}

/**
 * A window that clips neither a small bright object (an embryo in a
 * light-sheet plane) nor a small dark one (an embryo in brightfield): from
 * the 0.01th percentile to the 99.99th, so only a few stray pixels saturate.
 */
export function autoWindow(values) {
  const counts = new Uint32Array(65536);
  for (let i = 0; i < values.length; i++) counts[values[i]]++;
  const lowRank = Math.floor(values.length * 0.0001);
  const highRank = Math.min(values.length - 1, Math.floor(values.length * 0.9999));
  let seen = 0;
  let min = -1;
  let max = 0;
  for (let v = 0; v < 65536; v++) {
    if (counts[v] === 0) continue;
    seen += counts[v];
    if (min < 0 && seen > lowRank) min = v;
    if (seen > highRank) {
      max = v;
      break;
    }
  }
  return max > min ? { min, max } : { min, max: min + 1 };
}

/** Lowest and highest sample. */
export function extent(values) {
  let lo = 65535;
  let hi = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return { lo, hi };
}

/** Counts in `bins` equal bins over [lo, hi]. */
export function histogram(values, lo, hi, bins) {
  const counts = new Uint32Array(bins);
  const scale = bins / Math.max(1, hi - lo + 1);
  for (let i = 0; i < values.length; i++) {
    const b = Math.floor((values[i] - lo) * scale);
    if (b >= 0 && b < bins) counts[b]++;
  }
  return counts;
}

/** A length for a scale bar of about `targetPx` screen pixels: 1, 2 or 5 × 10^k µm. */
export function niceLength(umPerScreenPx, targetPx) {
  const raw = umPerScreenPx * targetPx;
  const decade = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [5, 2, 1]) if (m * decade <= raw) return m * decade;
  return decade;
}
