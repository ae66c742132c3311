/**
 * In-place iterative radix-2 FFT of one complex row (re, im); length must be
 * a power of two. Small and dependency-free: focus scoring needs only a
 * centred crop of a few hundred pixels.
 */
export function fft1d(re: Float64Array, im: Float64Array): void {
  const n = re.length;
  if (n !== im.length || (n & (n - 1)) !== 0) throw new Error(`fft length ${n} is not a power of two`);
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      [re[i], re[j]] = [re[j]!, re[i]!];
      [im[i], im[j]] = [im[j]!, im[i]!];
    }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const angle = (-2 * Math.PI) / len;
    const wRe = Math.cos(angle);
    const wIm = Math.sin(angle);
    for (let start = 0; start < n; start += len) {
      let curRe = 1;
      let curIm = 0;
      for (let k = 0; k < len / 2; k++) {
        const a = start + k;
        const b = a + len / 2;
        const tRe = re[b]! * curRe - im[b]! * curIm;
        const tIm = re[b]! * curIm + im[b]! * curRe;
        re[b] = re[a]! - tRe;
        im[b] = im[a]! - tIm;
        re[a] = re[a]! + tRe;
        im[a] = im[a]! + tIm;
        const nextRe = curRe * wRe - curIm * wIm;
        curIm = curRe * wIm + curIm * wRe;
        curRe = nextRe;
      }
    }
  }
}

/** 2-D FFT of a size×size real image (row-major); returns the power |F|² per frequency, DC at index 0. */
export function powerSpectrum2d(pixels: Float64Array, size: number): Float64Array {
  const re = Float64Array.from(pixels);
  const im = new Float64Array(size * size);
  const rowRe = new Float64Array(size);
  const rowIm = new Float64Array(size);
  for (let pass = 0; pass < 2; pass++) {
    // pass 0 transforms rows, pass 1 columns
    for (let line = 0; line < size; line++) {
      for (let k = 0; k < size; k++) {
        const idx = pass === 0 ? line * size + k : k * size + line;
        rowRe[k] = re[idx]!;
        rowIm[k] = im[idx]!;
      }
      fft1d(rowRe, rowIm);
      for (let k = 0; k < size; k++) {
        const idx = pass === 0 ? line * size + k : k * size + line;
        re[idx] = rowRe[k]!;
        im[idx] = rowIm[k]!;
      }
    }
  }
  const power = new Float64Array(size * size);
  for (let i = 0; i < power.length; i++) power[i] = re[i]! * re[i]! + im[i]! * im[i]!;
  return power;
}
