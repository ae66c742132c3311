export { startWriter, type RunningWriter, type WriterOptions } from "./writer-service";
export { loadWriterConfig, type WriterConfig } from "./config";
export type { VolumeFormat, OpenedVolume } from "./volume-format";
export { omeTiffFormat } from "./ome-tiff-format";
export { RESTARTED_REASON } from "./leftovers";
