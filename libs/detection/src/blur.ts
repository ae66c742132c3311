/** Separable Gaussian blur on float images, mirror-reflected at the borders (no dark halo at the edges). */

/** Normalised 1-D Gaussian kernel with radius ceil(3 sigma). */
export function gaussianKernel(sigmaPx: number): Float32Array {
  if (!(sigmaPx > 0)) return Float32Array.of(1);
  const radius = Math.max(1, Math.ceil(3 * sigmaPx));
  const kernel = new Float32Array(2 * radius + 1);
  let sum = 0;
  for (let i = -radius; i <= radius; i++) {
    const w = Math.exp(-(i * i) / (2 * sigmaPx * sigmaPx));
    kernel[i + radius] = w;
    sum += w;
  }
  for (let i = 0; i < kernel.length; i++) kernel[i] /= sum;
  return kernel;
}

function reflect(i: number, n: number): number {
  // Mirror without repeating the edge sample (…2 1 0 1 2…); loops for kernels wider than the image.
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  let m = i % period;
  if (m < 0) m += period;
  return m < n ? m : period - m;
}

/** Gaussian blur with standard deviation `sigmaPx`; sigma <= 0 returns a copy. */
export function gaussianBlur(values: Float32Array, width: number, height: number, sigmaPx: number): Float32Array {
  if (values.length !== width * height) throw new Error(`values length ${values.length} != ${width}x${height}`);
  if (!(sigmaPx > 0)) return values.slice();
  const kernel = gaussianKernel(sigmaPx);
  const radius = (kernel.length - 1) >> 1;
  const tmp = new Float32Array(values.length);
  const out = new Float32Array(values.length);

  // Horizontal pass: interior pixels without index fix-up, only the border columns go through reflect().
  const interiorStart = Math.min(radius, width);
  const interiorEnd = Math.max(interiorStart, width - radius);
  const borderPixel = (row: number, x: number): number => {
    let acc = 0;
    for (let k = -radius; k <= radius; k++) acc += kernel[k + radius] * values[row + reflect(x + k, width)];
    return acc;
  };
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < interiorStart; x++) tmp[row + x] = borderPixel(row, x);
    for (let x = interiorStart; x < interiorEnd; x++) {
      // Symmetric kernel: pair taps at ±k to halve the multiplications.
      const c = row + x;
      let acc = kernel[radius] * values[c];
      for (let k = 1; k <= radius; k++) acc += kernel[radius + k] * (values[c - k] + values[c + k]);
      tmp[c] = acc;
    }
    for (let x = interiorEnd; x < width; x++) tmp[row + x] = borderPixel(row, x);
  }

  // Vertical pass row by row so the inner loop walks contiguous memory; symmetric taps paired as above.
  for (let y = 0; y < height; y++) {
    const outRow = y * width;
    const centre = y * width;
    const w0 = kernel[radius];
    for (let x = 0; x < width; x++) out[outRow + x] = w0 * tmp[centre + x];
    for (let k = 1; k <= radius; k++) {
      const w = kernel[radius + k];
      const up = reflect(y - k, height) * width;
      const down = reflect(y + k, height) * width;
      for (let x = 0; x < width; x++) out[outRow + x] += w * (tmp[up + x] + tmp[down + x]);
    }
  }
  return out;
}
