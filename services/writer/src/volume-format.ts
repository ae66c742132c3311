import type { SinkResult, VolumeSink } from "@gently/ome-tiff";
import type { AcquisitionBegin } from "@gently/protocol";

/** A sink opened for one acquisition: its temp file exists and its exact final size is known. */
export interface OpenedVolume {
  sink: VolumeSink<SinkResult>;
  finalPath: string;
  /** where the partial file is while writing (moved to quarantine on failure) */
  tempPath: string;
  plannedBytes: number;
}

/**
 * A file format volumes can be written in. The writer only talks to this and
 * to VolumeSink, so another format (e.g. OME-Zarr) is one more implementation.
 */
export interface VolumeFormat {
  readonly name: string;
  /** name of the finished file of a volume, e.g. "{uid}.tif" */
  fileName(volumeUid: string): string;
  /** opens a sink at `dir/fileName(uid)`; throws SinkError (disk_full, not_writable, exists, ...) */
  open(begin: AcquisitionBegin, dir: string): Promise<OpenedVolume>;
}
