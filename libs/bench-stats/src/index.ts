export { median, percentile, timingStats, type TimingStats } from "./stats";
export { timeRuns } from "./time-runs";
