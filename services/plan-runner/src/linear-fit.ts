/** Least-squares line y = slope * x + offset, with the coefficient of determination r². */
export interface LinearFit {
  slope: number;
  offset: number;
  r2: number;
}

export function linearFit(xs: readonly number[], ys: readonly number[]): LinearFit {
  const n = xs.length;
  if (n < 2 || ys.length !== n) throw new Error(`a line needs at least 2 points of x and y, got ${n} and ${ys.length}`);
  const mx = xs.reduce((s, v) => s + v, 0) / n;
  const my = ys.reduce((s, v) => s + v, 0) / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (xs[i]! - mx) ** 2;
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    syy += (ys[i]! - my) ** 2;
  }
  if (sxx === 0) throw new Error("all x are equal: the line is undetermined");
  const slope = sxy / sxx;
  const offset = my - slope * mx;
  let ssRes = 0;
  for (let i = 0; i < n; i++) ssRes += (ys[i]! - (slope * xs[i]! + offset)) ** 2;
  // every y equal and matched exactly: a perfect (flat) fit
  const r2 = syy === 0 ? (ssRes === 0 ? 1 : 0) : 1 - ssRes / syy;
  return { slope, offset, r2 };
}
