/**
 * Separable resampling with a triangle (bilinear) filter widened by the downscale factor, i.e. PIL's
 * antialiased BILINEAR resize that SAM's reference preprocessing uses. Plain bilinear sampling when halving
 * a 2048 px snap would alias the camera noise.
 */

interface AxisWeights {
  starts: Int32Array;
  counts: Int32Array;
  /** Weights laid out at index i * maxTaps + k. */
  weights: Float32Array;
  maxTaps: number;
}

function axisWeights(inSize: number, outSize: number): AxisWeights {
  const scale = inSize / outSize;
  const support = Math.max(1, scale); // triangle half-width in input pixels
  const maxTaps = Math.ceil(support) * 2 + 1;
  const starts = new Int32Array(outSize);
  const counts = new Int32Array(outSize);
  const weights = new Float32Array(outSize * maxTaps);
  for (let i = 0; i < outSize; i++) {
    const centre = (i + 0.5) * scale;
    const lo = Math.max(0, Math.floor(centre - support + 0.5));
    const hi = Math.min(inSize, Math.floor(centre + support + 0.5));
    let sum = 0;
    for (let j = lo; j < hi; j++) {
      const w = Math.max(0, 1 - Math.abs((j + 0.5 - centre) / support));
      weights[i * maxTaps + (j - lo)] = w;
      sum += w;
    }
    for (let k = 0; k < hi - lo; k++) weights[i * maxTaps + k] /= sum || 1;
    starts[i] = lo;
    counts[i] = hi - lo;
  }
  return { starts, counts, weights, maxTaps };
}

export function resizeBilinear(src: Float32Array, width: number, height: number, outWidth: number, outHeight: number): Float32Array {
  if (src.length !== width * height) throw new Error(`source length ${src.length} != ${width}x${height}`);
  if (outWidth === width && outHeight === height) return src.slice();
  const h = axisWeights(width, outWidth);
  const v = axisWeights(height, outHeight);
  const tmp = new Float32Array(outWidth * height);
  for (let y = 0; y < height; y++) {
    const srcRow = y * width;
    const dstRow = y * outWidth;
    for (let x = 0; x < outWidth; x++) {
      const start = srcRow + h.starts[x];
      const wBase = x * h.maxTaps;
      let acc = 0;
      for (let k = 0; k < h.counts[x]; k++) acc += h.weights[wBase + k] * src[start + k];
      tmp[dstRow + x] = acc;
    }
  }
  const out = new Float32Array(outWidth * outHeight);
  for (let y = 0; y < outHeight; y++) {
    const dstRow = y * outWidth;
    const wBase = y * v.maxTaps;
    for (let k = 0; k < v.counts[y]; k++) {
      const w = v.weights[wBase + k];
      const srcRow = (v.starts[y] + k) * outWidth;
      for (let x = 0; x < outWidth; x++) out[dstRow + x] += w * tmp[srcRow + x];
    }
  }
  return out;
}
