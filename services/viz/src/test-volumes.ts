import { mkdir } from "node:fs/promises";
import path from "node:path";
import type { JetStreamClient } from "@nats-io/jetstream";
import { publishDurable } from "@gently/bus";
import { volumeIndexExtra } from "@gently/datastore";
import { createOmeTiffSink } from "@gently/ome-tiff";
import { newUid, subjects, VolumeWritten, type Uid } from "@gently/protocol";

export interface TestVolumeOptions {
  uid?: Uid;
  session_id?: string;
  run_uid?: Uid;
  size_x: number;
  size_y: number;
  size_z: number;
  size_c?: number;
  /** the samples of plane (c, z), row-major */
  plane: (c: number, z: number) => Uint16Array;
}

/**
 * Writes a real OME-TIFF at {storage}/volumes/{uid}.tif with the OME-TIFF
 * sink, as the writer does (two channels interleaved per z, like two
 * cameras), and returns the VolumeWritten body the writer would announce.
 */
export async function writeTestVolume(storage: string, opts: TestVolumeOptions): Promise<VolumeWritten> {
  const uid = opts.uid ?? newUid();
  const run_uid = opts.run_uid ?? newUid();
  const session_id = opts.session_id ?? "viz-test";
  const size_c = opts.size_c ?? 1;
  const data_type = opts.size_z > 1 ? "volume" : "image";
  const cameras = ["HamCam1", "HamCam2"].slice(0, size_c);
  const metadata = {
    dimension_order: size_c > 1 ? "XYCZT" : "XYZCT",
    cameras,
    pixel_size_um: 0.1625,
    z_step_um: 1,
    exposure_ms: 10,
    laser_config: "488 only" as const,
    position: { x_um: 100, y_um: 200, z_um: 0 },
    plan_name: "z_stack",
  };
  await mkdir(path.join(storage, "volumes"), { recursive: true });
  const sink = await createOmeTiffSink({
    finalPath: path.join(storage, "volumes", `${uid}.tif`),
    checkFreeSpace: false,
    meta: {
      uid,
      session_id,
      run_uid,
      plan_name: metadata.plan_name,
      dtype: "uint16",
      dimension_order: size_c > 1 ? "XYCZT" : "XYZCT",
      size_x: opts.size_x,
      size_y: opts.size_y,
      size_z: opts.size_z,
      size_c,
      pixel_size_um: metadata.pixel_size_um,
      z_step_um: metadata.z_step_um,
      exposure_ms: metadata.exposure_ms,
      channels: cameras.map((camera) => ({ camera, laser: "488nm" })),
      stage_position_um: { x_um: 100, y_um: 200, z_um: 0 },
      acquired_at: new Date().toISOString(),
      extra: volumeIndexExtra({ data_type, metadata }),
    },
  });
  for (let z = 0; z < opts.size_z; z++) for (let c = 0; c < size_c; c++) await sink.appendPlane(opts.plane(c, z));
  const result = await sink.finalize();
  return VolumeWritten.parse({
    uid,
    data_type,
    path: result.path,
    shape: result.shape,
    dtype: result.dtype,
    session_id,
    run_uid,
    bytes: result.bytes,
    checksum: result.checksum,
    created: new Date().toISOString(),
    metadata: { ...metadata, dropped_frames: 0 },
  });
}

/** Announces a written volume on JetStream the way the writer does (deduplicated by uid). */
export async function announceVolume(js: JetStreamClient, body: VolumeWritten): Promise<number> {
  return (await publishDurable(js, subjects.volume.written, VolumeWritten, body, body.uid)).seq;
}
