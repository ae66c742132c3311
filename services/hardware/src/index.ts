export { benchHardware, type BenchRow, type HardwareBenchOptions } from "./bench";
export { benchContinuous, DEFAULT_CONTINUOUS_CASES, type ContinuousBenchOptions, type ContinuousCase, type ContinuousResult } from "./continuous-bench";
export { Core, type FrameMeta, type CoreSweep, type DeviceList, type PopResult } from "./core-binding";
export { loadLimits, checkMove, checkSequence } from "./limits";
export { HardwareLease, describeHolder, LEASE_TTL_MS, LEASE_HEARTBEAT_MS, type LeaseHolder } from "./lease";
export { SimTruth, type SimState } from "./sim-truth";
export { TestReader, type TestReaderOptions, type ReadFrame } from "./test-reader";
