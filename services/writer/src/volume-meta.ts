import path from "node:path";
import { volumeIndexExtra } from "@gently/storage";
import { parseVolumeMeta, volumeShape, type SinkResult, type VolumeMetaInput } from "@gently/ome-tiff";
import type { AcquisitionBegin, AcquisitionEnd, VolumeWritten } from "@gently/protocol";
import { laserLinesOf } from "./laser-lines";

/**
 * Written where the file format requires a value the acquisition does not
 * have (no run, no plan, no laser): a readable word instead of an empty field.
 */
export const ABSENT = "none";

/**
 * The file's metadata for an acquisition. Frames of two cameras arrive
 * interleaved per slice (plane = z × cameras + c), so the file stores them in
 * that order: OME DimensionOrder XYCZT, one channel per camera. The file also
 * carries the index facts (data type, volume.written metadata) so a DataStore
 * rebuild from the files alone recovers them.
 */
export function sinkMetaOf(begin: AcquisitionBegin): VolumeMetaInput {
  const lines = laserLinesOf(begin.laser_config);
  const extra: Record<string, string> = {
    acq_id: begin.acq_id,
    cameras: begin.cameras.join(","),
    position: JSON.stringify(begin.position),
  };
  // The OME-TIFF library needs PhysicalSizeZ > 0: a single plane (step 0) or a
  // reversed sweep keeps its true step here.
  if (!(begin.z_step_um > 0)) extra.z_step_um = String(begin.z_step_um);
  const meta: VolumeMetaInput = {
    uid: begin.volume_uid,
    session_id: begin.session_id,
    run_uid: begin.run_uid ?? ABSENT,
    plan_name: begin.plan_name || ABSENT,
    dtype: begin.dtype,
    dimension_order: "XYCZT",
    size_x: begin.width,
    size_y: begin.height,
    size_z: begin.num_slices,
    size_c: begin.cameras.length,
    pixel_size_um: begin.pixel_size_um,
    z_step_um: physicalZStepUm(begin),
    exposure_ms: begin.exposure_ms,
    channels: begin.cameras.map((camera) => ({
      camera,
      laser: begin.laser_config ?? ABSENT,
      // Only one line on means every camera saw it; with two lines the filter decides, unknown here.
      ...(lines.length === 1 ? { excitation_nm: lines[0] } : {}),
    })),
    laser_config: lines.map((wavelength_nm) => {
      const power_pct = begin.laser_power_pct?.[String(wavelength_nm) as keyof NonNullable<AcquisitionBegin["laser_power_pct"]>];
      return { wavelength_nm, enabled: true, ...(power_pct !== undefined ? { power_pct } : {}) };
    }),
    ...(begin.sweep ? { sheet_sweep: { ...begin.sweep, mode: begin.sweep_mode ?? "hardware" } } : {}),
    // Each frame's piezo and galvo go into its plane. A controller-run sweep reports the positions it
    // was told (nothing measured them); a stepped sweep and a frame without sweep carry read-back ones.
    plane_positions: begin.sweep && (begin.sweep_mode ?? "hardware") === "hardware" ? "planned" : "measured",
    stage_position_um: { x_um: begin.position.x_um, y_um: begin.position.y_um, z_um: begin.position.z_um ?? 0 },
    acquired_at: begin.started,
    extra,
  };
  const { axes } = volumeShape(parseVolumeMeta(meta));
  // A file that is finalized had no dropped frames: anything else is never written.
  Object.assign(extra, volumeIndexExtra({ data_type: dataTypeOf(begin), metadata: writtenMetadataOf(begin, axes, 0) }));
  return meta;
}

/** PhysicalSizeZ: the step's magnitude; for a single plane, the pixel size (isotropic, like Fiji assumes). */
function physicalZStepUm(begin: AcquisitionBegin): number {
  const step = Math.abs(begin.z_step_um);
  return step > 0 ? step : begin.pixel_size_um;
}

export function dataTypeOf(begin: AcquisitionBegin): VolumeWritten["data_type"] {
  return begin.num_slices === 1 ? "image" : "volume";
}

/** volume.written's metadata; `axes` are the letters of the stored shape ("ZYX", or "ZCYX" for two cameras). */
export function writtenMetadataOf(begin: AcquisitionBegin, axes: string, droppedFrames: number): VolumeWritten["metadata"] {
  return {
    dimension_order: axes,
    cameras: begin.cameras,
    pixel_size_um: begin.pixel_size_um,
    z_step_um: begin.z_step_um,
    exposure_ms: begin.exposure_ms,
    ...(begin.laser_config !== undefined ? { laser_config: begin.laser_config } : {}),
    ...(begin.sweep_mode !== undefined ? { sweep_mode: begin.sweep_mode } : {}),
    position: begin.position,
    ...(begin.plan_name !== undefined ? { plan_name: begin.plan_name } : {}),
    acq_id: begin.acq_id,
    dropped_frames: droppedFrames,
  };
}

/** The announcement of a finished file: metadata only, well under 2 KB. */
/** `file` relative to `storageDir`, '/'-separated on every platform (StoragePath). */
export function storagePathOf(storageDir: string, file: string): string {
  return path.relative(storageDir, file).split(path.sep).join("/");
}

export function volumeWrittenOf(begin: AcquisitionBegin, end: AcquisitionEnd, result: SinkResult, created: Date, storageDir: string): VolumeWritten {
  return {
    uid: begin.volume_uid,
    data_type: dataTypeOf(begin),
    path: result.path,
    storage_path: storagePathOf(storageDir, result.path),
    shape: result.shape,
    dtype: result.dtype,
    session_id: begin.session_id,
    ...(begin.run_uid !== undefined ? { run_uid: begin.run_uid } : {}),
    bytes: result.bytes,
    checksum: result.checksum,
    created: created.toISOString(),
    metadata: writtenMetadataOf(begin, result.axes, end.dropped),
  };
}
