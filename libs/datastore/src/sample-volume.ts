import { mkdir } from "node:fs/promises";
import path from "node:path";
import { createOmeTiffSink } from "@gently/ome-tiff";
import { LAYOUT, volumePathFor } from "@gently/storage";
import { newUid, VolumeWritten, type Uid } from "@gently/protocol";
import { volumeIndexExtra } from "@gently/storage";

export interface SampleVolumeOptions {
  uid?: Uid;
  session_id?: string;
  run_uid?: Uid;
  /** default: "image" when size_z is 1, else "volume" */
  data_type?: "image" | "volume";
  size_x?: number;
  size_y?: number;
  /** planes; default 1 for an image, 3 for a volume */
  size_z?: number;
  /** channels, one camera each (HamCam1, HamCam2), interleaved per z as the writer stores two cameras */
  size_c?: number;
  /** the samples of plane (c, z), row-major; default: every sample 100 + z */
  plane?: (c: number, z: number) => Uint16Array;
  /** the event's `created`; default: now, after the file is in place */
  created?: string;
  dropped_frames?: number;
  /** the plan that "took" it; default "z_stack" */
  plan_name?: string;
}

/**
 * Writes a real, small gently OME-TIFF at `{storage}/volumes/{uid}.tif` the
 * way the writer does (OME-TIFF sink, index facts in the annotation) and
 * returns the VolumeWritten body the writer would announce. For tests and
 * demos of everything downstream of the writer.
 */
export async function writeSampleVolume(storage: string, opts: SampleVolumeOptions = {}): Promise<VolumeWritten> {
  const uid = opts.uid ?? newUid();
  const run_uid = opts.run_uid ?? newUid();
  const acq_id = newUid();
  const size_x = opts.size_x ?? 32;
  const size_y = opts.size_y ?? 16;
  const size_z = opts.size_z ?? (opts.data_type === "image" ? 1 : 3);
  const size_c = opts.size_c ?? 1;
  const data_type = opts.data_type ?? (size_z > 1 ? "volume" : "image");
  const dimension_order = size_c > 1 ? "XYCZT" : "XYZCT";
  const cameras = ["HamCam1", "HamCam2"].slice(0, size_c);
  const metadata = {
    dimension_order,
    cameras,
    pixel_size_um: 0.1625,
    z_step_um: 1.5,
    exposure_ms: 10,
    laser_config: "488 only" as const,
    position: { x_um: 1200.5, y_um: -340.25, z_um: 50, piezo_um: 0 },
    plan_name: opts.plan_name ?? "z_stack",
    acq_id,
  };
  await mkdir(path.join(storage, LAYOUT.volumes), { recursive: true });
  const sink = await createOmeTiffSink({
    finalPath: volumePathFor(storage, uid),
    checkFreeSpace: false,
    meta: {
      uid,
      session_id: opts.session_id ?? "session-1",
      run_uid,
      plan_name: metadata.plan_name,
      dtype: "uint16",
      dimension_order,
      size_x,
      size_y,
      size_z,
      size_c,
      pixel_size_um: metadata.pixel_size_um,
      z_step_um: metadata.z_step_um,
      exposure_ms: metadata.exposure_ms,
      channels: cameras.map((camera) => ({ camera, laser: metadata.laser_config })),
      stage_position_um: { x_um: 1200.5, y_um: -340.25, z_um: 50 },
      acquired_at: new Date().toISOString(),
      extra: volumeIndexExtra({ data_type, metadata }),
    },
  });
  const plane = opts.plane ?? ((_c: number, z: number) => new Uint16Array(size_x * size_y).fill(100 + z));
  for (let z = 0; z < size_z; z++) for (let c = 0; c < size_c; c++) await sink.appendPlane(plane(c, z));
  const result = await sink.finalize();
  return VolumeWritten.parse({
    uid,
    data_type,
    path: result.path,
    shape: result.shape,
    dtype: result.dtype,
    session_id: opts.session_id ?? "session-1",
    run_uid,
    bytes: result.bytes,
    checksum: result.checksum,
    created: opts.created ?? new Date().toISOString(),
    metadata: { ...metadata, dropped_frames: opts.dropped_frames ?? 0 },
  });
}
