export { connectNats, defaultNatsUrl, type ClientOptions } from "./connect";
export { systemStatus, type SystemStatus, type ServiceHealth } from "./status";
export { isWriterLayout, readVolumeFile, readVolumeRegion, readWithGeotiff, type LoadedVolume, type VolumeRegion } from "./volume-file";
export { readStored, type ReadStoredOptions, type StoredMessage } from "./stream-read";
export { connect, GentlyClient, type GentlyClientOptions } from "./client";
export { RunHandle, type RunResult } from "./run-handle";
export { benchLoadVolume, type LoadBenchOptions, type LoadBenchResult } from "./bench";
