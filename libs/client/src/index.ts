export { connectNats, defaultNatsUrl, type ClientOptions } from "./connect";
export { systemStatus, type SystemStatus, type ServiceHealth } from "./status";
// What a copilot reads besides the client: volumes from disk, stored stream messages.
export { isWriterLayout, readVolumeFile, readVolumeRegion, readWithGeotiff, type LoadedVolume, type VolumeRegion } from "@gently/ome-tiff";
export { readStored, type ReadStoredOptions, type StoredMessage } from "@gently/bus";
export { connect, GentlyClient, type GentlyClientOptions } from "./client";
export { RunHandle, type RunResult } from "./run-handle";
export { benchLoadVolume, type LoadBenchOptions, type LoadBenchResult } from "./bench";
