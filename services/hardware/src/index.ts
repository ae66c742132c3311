export { Core, type FrameMeta, type CoreSweep, type DeviceList, type PopResult } from "./core-binding";
export { loadLimits, checkMove, checkSequence } from "./limits";
export { HardwareLease, describeHolder, LEASE_TTL_MS, LEASE_HEARTBEAT_MS, type LeaseHolder } from "./lease";
export { SimTruth, type SimState } from "./sim-truth";
