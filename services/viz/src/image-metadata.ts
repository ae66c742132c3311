import { stat } from "node:fs/promises";
import type { NatsConnection } from "@nats-io/transport-node";
import { GentlyError, type DataItem } from "@gently/protocol";
import type { OmeMetadata } from "@gently/ome-tiff";
import { findItem } from "./datastore-client";
import type { StoragePaths } from "./storage-paths";
import type { VolumeGeometry } from "@gently/preview";
import type { VolumeCache } from "./volume-cache";

export interface ImageMetadata {
  uid: string;
  /** where the facts came from: the DataStore's row, or the file's own OME metadata when the indexer has not caught up */
  source: "datastore" | "file";
  data_type: string;
  shape: number[] | null;
  dtype: string | null;
  session_id: string | null;
  run_uid: string | null;
  created: string | null;
  bytes: number;
  metadata: Record<string, unknown>;
  /** planes as viz addresses them (slice and MIP parameters); null when there is no readable file */
  geometry: VolumeGeometry | null;
  /** channel names, index = c */
  channels: string[];
  /** each slice's z position in µm as the file records it (the piezo's, for a swept volume), index = z; empty when the file does not say */
  plane_z_um: number[];
}

/** An image's metadata: the DataStore's row, completed (or replaced) by what the file itself says. */
export async function imageMetadata(
  nc: NatsConnection,
  storage: StoragePaths,
  volumes: VolumeCache,
  uid: string,
): Promise<ImageMetadata> {
  const [item, file] = await Promise.all([
    findItem(nc, uid),
    storage.volumeFile(uid).catch((err) => {
      if (err instanceof GentlyError && err.code === "not_found") return null;
      throw err;
    }),
  ]);
  if (!item && !file) throw new GentlyError("not_found", `no image or volume with uid ${uid}`, "uid");
  const fromFile = file
    ? await volumes.use(file, async (v) => ({ geometry: v.geometry, ome: v.ome, shape: v.shape, bytes: (await stat(file)).size }))
    : null;
  const channels = fromFile?.ome?.channels.map((ch, i) => ch.name ?? `channel ${i}`) ?? [];
  const plane_z_um = fromFile?.ome ? planePositionsZ(fromFile.ome, fromFile.geometry.size_z) : [];
  if (item) return { ...fromItem(item, fromFile?.geometry ?? null, channels), plane_z_um };
  const meta = fromFile!.ome?.meta;
  const g = fromFile!.geometry;
  return {
    uid,
    source: "file",
    data_type: g.size_z > 1 ? "volume" : "image",
    shape: fromFile!.shape,
    dtype: g.dtype,
    session_id: meta?.session_id ?? null,
    run_uid: meta?.run_uid ?? null,
    created: meta?.acquired_at ?? null,
    bytes: fromFile!.bytes,
    metadata: meta
      ? {
          plan_name: meta.plan_name,
          pixel_size_um: meta.pixel_size_um,
          z_step_um: meta.z_step_um,
          exposure_ms: meta.exposure_ms,
          dimension_order: meta.dimension_order,
          position: meta.stage_position_um,
        }
      : {},
    geometry: g,
    channels,
    plane_z_um,
  };
}

/** PositionZ of channel 0's planes by z; empty unless every slice has one. */
function planePositionsZ(ome: OmeMetadata, sizeZ: number): number[] {
  const byZ = new Map<number, number>();
  for (const p of ome.planes) if (p.theC === 0 && p.theT === 0 && p.position_z_um !== undefined) byZ.set(p.theZ, p.position_z_um);
  const positions = Array.from({ length: sizeZ }, (_, z) => byZ.get(z));
  return positions.every((v) => v !== undefined) ? (positions as number[]) : [];
}

function fromItem(item: DataItem, geometry: VolumeGeometry | null, channels: string[]): Omit<ImageMetadata, "plane_z_um"> {
  return {
    uid: item.uid,
    source: "datastore",
    data_type: item.data_type,
    shape: item.shape,
    dtype: item.dtype,
    session_id: item.session_id,
    run_uid: item.run_uid,
    created: item.created,
    bytes: item.bytes,
    metadata: item.metadata,
    geometry,
    channels,
  };
}
