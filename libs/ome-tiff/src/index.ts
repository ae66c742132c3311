export { SinkError, type SinkErrorCode } from "./errors";
export type { VolumeSink, SinkResult, Checksum } from "./sink";
export { OmeTiffSink, createOmeTiffSink, SOFTWARE, type OmeTiffSinkOptions, type OmeTiffSinkResult } from "./ome-tiff-sink";
export type { SinkFileHandle } from "./sequential-writer";
export {
  VolumeMetaSchema,
  parseVolumeMeta,
  planeCoords,
  volumeShape,
  GENTLY_ANNOTATION_NS,
  type VolumeMeta,
  type VolumeMetaInput,
  type Channel,
  type Dtype,
  type PlanePosition,
} from "./meta";
export { readOmeMetadata, readFirstImageDescription } from "./read";
export { readTiffPlaneIndex, type TiffPlaneIndex, type TiffPlaneEntry } from "./plane-index";
export { buildOmeXml, parseOmeXml, type OmeMetadata, type OmePlane, type TiffDataBlock } from "./ome-xml";
export { freeBytes, fsyncDir, moveIntoPlace, moveNoReplace } from "./durable-fs";
export { computeChecksum, verifyChecksum, type ChecksumVerdict } from "./checksum";
export { scanLeftovers, partialFileName, parsePartialFileName, PARTIAL_SUFFIX, type Leftover } from "./leftovers";
export { openWindowsFile, type WindowsSinkFile } from "./windows-file";
export { isWriterLayout, readVolumeFile, readVolumeRegion, readWithGeotiff, type LoadedVolume, type VolumeRegion } from "./volume-read";
