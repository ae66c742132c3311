import type { Dtype, PlanePosition, VolumeMetaInput } from "./meta";

export interface Checksum {
  /** xxh3-64 (XXH3_64bits, seed 0) over the whole final file, as `xxhsum -H3` computes it. */
  algorithm: "xxh3-64";
  /** 16 lowercase hex digits. */
  hex: string;
}

export interface SinkResult {
  format: string;
  path: string;
  bytes: number;
  checksum: Checksum;
  /** Numpy-style shape in storage order with singleton T and C dropped, e.g. [z, y, x] or [z, c, y, x]. */
  shape: number[];
  /** Axis letters for `shape`, e.g. "ZYX", "ZCYX", "CZYX", "TZCYX". */
  axes: string;
  dtype: Dtype;
}

/**
 * A destination for one volume, written plane by plane (pymmcore-plus style writer). Implementations
 * write to a temporary name and only make the final path appear, atomically and durably, in
 * finalize(). After any rejected call the sink is unusable except for abort().
 */
export interface VolumeSink<R extends SinkResult = SinkResult> {
  readonly format: string;
  /** Validates the metadata, checks space, creates the temp file and writes the header. */
  open(meta: VolumeMetaInput): Promise<void>;
  /**
   * Appends the next plane in the volume's dimension order (little-endian samples, row-major).
   * Calls are serialized internally; the buffer must stay unchanged until the returned promise settles.
   * `position`: where the light sheet was for this plane, recorded in the file's plane metadata.
   */
  appendPlane(plane: ArrayBufferView, position?: PlanePosition): Promise<void>;
  /** Completes the file, fsyncs it, renames it into place, fsyncs the directory. */
  finalize(): Promise<R>;
  /** Stops writing and deletes the temp file, or leaves it in place for quarantine with `keep`. */
  abort(options?: { keep?: boolean }): Promise<void>;
}
