/** Milliseconds of each of `runs` synchronous calls of fn, in order, timed with the monotonic high-resolution clock. */
export function timeRuns(runs: number, fn: () => unknown): number[] {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return samples;
}
