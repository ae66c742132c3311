import { mkdir } from "node:fs/promises";
import path from "node:path";
import { volumePathFor } from "@gently/storage";
import { createOmeTiffSink } from "@gently/ome-tiff";
import { newUid, type Uid } from "@gently/protocol";

export interface ImageFileOptions {
  uid?: Uid;
  width: number;
  height: number;
  pixel_size_um: number;
  stage_x_um: number;
  stage_y_um: number;
}

/**
 * Writes planes ([z][c], uint16) as `{storage}/volumes/{uid}.tif` the way the
 * writer stores an acquisition (OME-TIFF, cameras interleaved per slice,
 * gently annotation), for the benchmark and for tests of volume handling that
 * the simulated microscope cannot set up exactly.
 */
export async function writeImageFile(storage: string, planes: Uint16Array[][], opts: ImageFileOptions): Promise<Uid> {
  const uid = opts.uid ?? newUid();
  const sizeC = planes[0]?.length ?? 0;
  const finalPath = volumePathFor(storage, uid);
  await mkdir(path.dirname(finalPath), { recursive: true });
  const sink = await createOmeTiffSink({
    finalPath,
    checkFreeSpace: false,
    meta: {
      uid,
      session_id: "synthetic",
      run_uid: "none",
      plan_name: "none",
      dimension_order: "XYCZT",
      size_x: opts.width,
      size_y: opts.height,
      size_z: planes.length,
      size_c: sizeC,
      pixel_size_um: opts.pixel_size_um,
      z_step_um: 1,
      exposure_ms: 10,
      channels: Array.from({ length: sizeC }, (_, c) => ({ camera: `camera${c}`, laser: "none" })),
      stage_position_um: { x_um: opts.stage_x_um, y_um: opts.stage_y_um, z_um: 0 },
      acquired_at: new Date().toISOString(),
    },
  });
  try {
    for (const slice of planes) for (const plane of slice) await sink.appendPlane(plane);
  } catch (err) {
    await sink.abort();
    throw err;
  }
  await sink.finalize();
  return uid;
}
