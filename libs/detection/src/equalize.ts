/**
 * Contrast equalisation of images already normalised to [0, 1].
 * CLAHE (contrast-limited adaptive histogram equalisation) evens out illumination that varies across the
 * field of view, which a single global threshold cannot cope with; the clip limit keeps flat background
 * tiles from having their noise stretched to full range.
 */

export interface ClaheOptions {
  /**
   * Nominal tile side; the grid is round(width / tileSizePx) × round(height / tileSizePx), at least 1×1.
   * Tiles must be several object diameters wide: a tile not much larger than an embryo equalises the embryo
   * against itself and flattens it into the background. 256 px gives OpenCV's 8×8 grid on a 2048 px snap.
   */
  tileSizePx?: number;
  /** Explicit grid, overriding tileSizePx. */
  tilesX?: number;
  tilesY?: number;
  /** Clip limit as a multiple of the mean bin count of a tile (OpenCV convention; 1 = no contrast gain). */
  clipLimit?: number;
  /** Grey levels used for the tile histograms. */
  bins?: number;
}

/** CLAHE with bilinear interpolation between tile lookup tables. Returns a new array with values in [0, 1]. */
export function clahe(values: Float32Array, width: number, height: number, options: ClaheOptions = {}): Float32Array {
  const tileSizePx = options.tileSizePx ?? 256;
  const tilesX = Math.max(1, Math.min(options.tilesX ?? Math.round(width / tileSizePx), width));
  const tilesY = Math.max(1, Math.min(options.tilesY ?? Math.round(height / tileSizePx), height));
  const clipLimit = options.clipLimit ?? 2.5;
  const bins = options.bins ?? 256;
  if (!(clipLimit >= 1)) throw new Error(`clipLimit must be >= 1, got ${clipLimit}`);
  if (values.length !== width * height) throw new Error(`values length ${values.length} != ${width}x${height}`);

  const tileW = width / tilesX;
  const tileH = height / tilesY;
  const top = bins - 1;

  // Quantise once; every later step works on bin indices.
  const q = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    let b = Math.floor(values[i] * bins);
    if (b < 0) b = 0;
    else if (b > top) b = top;
    q[i] = b;
  }

  // Column/row -> tile index tables, so the histogram pass does no division.
  const tileOfX = new Int32Array(width);
  for (let x = 0; x < width; x++) tileOfX[x] = Math.min(tilesX - 1, Math.floor(x / tileW));
  const hists = new Uint32Array(tilesX * tilesY * bins);
  const tileCounts = new Uint32Array(tilesX * tilesY);
  for (let y = 0; y < height; y++) {
    const rowTile = Math.min(tilesY - 1, Math.floor(y / tileH)) * tilesX;
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const t = rowTile + tileOfX[x];
      hists[t * bins + q[row + x]]++;
      tileCounts[t]++;
    }
  }

  // Clip each histogram, spread the excess evenly, and turn it into a CDF lookup table in [0, 1].
  const luts = new Float32Array(tilesX * tilesY * bins);
  for (let t = 0; t < tilesX * tilesY; t++) {
    const count = tileCounts[t];
    const base = t * bins;
    if (count === 0) continue;
    const limit = Math.max(1, Math.floor((clipLimit * count) / bins));
    let excess = 0;
    for (let b = 0; b < bins; b++) {
      const h = hists[base + b];
      if (h > limit) {
        excess += h - limit;
        hists[base + b] = limit;
      }
    }
    const perBin = Math.floor(excess / bins);
    let remainder = excess - perBin * bins;
    let cumulative = 0;
    for (let b = 0; b < bins; b++) {
      let h = hists[base + b] + perBin;
      if (remainder > 0) {
        // Spread the remainder one count per bin from the bottom; keeps the total exact.
        h++;
        remainder--;
      }
      cumulative += h;
      luts[base + b] = cumulative / count;
    }
  }

  // Bilinear blend between the four nearest tile centres; outside the outer centres the weights clamp.
  const x0s = new Int32Array(width);
  const x1s = new Int32Array(width);
  const wxs = new Float32Array(width);
  for (let x = 0; x < width; x++) {
    const f = (x + 0.5) / tileW - 0.5;
    const lo = Math.floor(f);
    x0s[x] = Math.max(0, Math.min(tilesX - 1, lo));
    x1s[x] = Math.max(0, Math.min(tilesX - 1, lo + 1));
    wxs[x] = f <= 0 ? 0 : f >= tilesX - 1 ? 1 : f - lo;
  }
  const out = new Float32Array(values.length);
  for (let y = 0; y < height; y++) {
    const f = (y + 0.5) / tileH - 0.5;
    const lo = Math.floor(f);
    const ty0 = Math.max(0, Math.min(tilesY - 1, lo)) * tilesX;
    const ty1 = Math.max(0, Math.min(tilesY - 1, lo + 1)) * tilesX;
    const wy = f <= 0 ? 0 : f >= tilesY - 1 ? 1 : f - lo;
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const b = q[row + x];
      const wx = wxs[x];
      const a0 = luts[(ty0 + x0s[x]) * bins + b];
      const a1 = luts[(ty0 + x1s[x]) * bins + b];
      const c0 = luts[(ty1 + x0s[x]) * bins + b];
      const c1 = luts[(ty1 + x1s[x]) * bins + b];
      const top0 = a0 + (a1 - a0) * wx;
      const bot0 = c0 + (c1 - c0) * wx;
      out[row + x] = top0 + (bot0 - top0) * wy;
    }
  }
  return out;
}

/** Global histogram equalisation over `bins` grey levels. Returns a new array with values in [0, 1]. */
export function equalizeHistogram(values: Float32Array, bins = 4096): Float32Array {
  const top = bins - 1;
  const hist = new Uint32Array(bins);
  for (let i = 0; i < values.length; i++) {
    let b = Math.floor(values[i] * bins);
    if (b < 0) b = 0;
    else if (b > top) b = top;
    hist[b]++;
  }
  const lut = new Float32Array(bins);
  let cumulative = 0;
  for (let b = 0; b < bins; b++) {
    cumulative += hist[b];
    lut[b] = cumulative / values.length;
  }
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    let b = Math.floor(values[i] * bins);
    if (b < 0) b = 0;
    else if (b > top) b = top;
    out[i] = lut[b];
  }
  return out;
}
