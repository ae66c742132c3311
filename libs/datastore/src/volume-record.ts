import { stat } from "node:fs/promises";
import path from "node:path";
import { computeChecksum, readOmeMetadata, volumeShape, type VolumeMeta } from "@gently/ome-tiff";
import { isUid, SessionId, type DataType } from "@gently/protocol";
import { VOLUME_INDEX_EXTRA_KEY, volumeFileName, type VolumeIndexFacts } from "@gently/storage";
import type { ItemRecord } from "./item-record";

function indexFactsOf(meta: VolumeMeta): VolumeIndexFacts | null {
  const raw = meta.extra[VOLUME_INDEX_EXTRA_KEY];
  if (raw === undefined) return null;
  const parsed = JSON.parse(raw) as VolumeIndexFacts;
  if ((parsed.data_type !== "image" && parsed.data_type !== "volume") || typeof parsed.metadata !== "object" || parsed.metadata === null) {
    throw new Error(`${VOLUME_INDEX_EXTRA_KEY} annotation is malformed`);
  }
  return parsed;
}

/** What the OME header says about the acquisition, in VolumeWritten.metadata's terms. */
function metadataFromHeader(meta: VolumeMeta): Record<string, unknown> {
  return {
    dimension_order: meta.dimension_order,
    cameras: meta.channels.map((c) => c.camera),
    pixel_size_um: meta.pixel_size_um,
    z_step_um: meta.z_step_um,
    exposure_ms: meta.exposure_ms,
    position: { x_um: meta.stage_position_um.x_um, y_um: meta.stage_position_um.y_um, z_um: meta.stage_position_um.z_um },
    plan_name: meta.plan_name,
  };
}

/**
 * Reads `{storage}/volumes/{uid}.tif` back into an index record: uid, session
 * and run from gently's MapAnnotation, shape and dtype from the header, size
 * and checksum from the bytes, `created` from the file's mtime (the rename
 * into place keeps the time of the last write). Throws with a reason when the
 * file is not a gently volume.
 */
export async function volumeRecordFromFile(realRoot: string, file: string): Promise<ItemRecord> {
  const ome = await readOmeMetadata(file);
  const meta = ome.meta;
  if (!meta) throw new Error("no gently annotation in the OME-XML");
  const expectedName = volumeFileName(meta.uid);
  if (path.basename(file) !== expectedName) throw new Error(`annotation uid ${meta.uid} does not match the file name`);
  if (!isUid(meta.uid)) throw new Error(`annotation uid ${meta.uid} is not a 21-character uid`);
  if (!SessionId.safeParse(meta.session_id).success) throw new Error(`annotation session_id ${meta.session_id} is not valid`);
  const facts = indexFactsOf(meta);
  const single = meta.size_z * meta.size_c * meta.size_t === 1;
  const data_type: DataType = facts?.data_type ?? (single ? "image" : "volume");
  const [st, checksum] = await Promise.all([stat(file), computeChecksum(file)]);
  return {
    uid: meta.uid,
    data_type,
    rel: path.relative(realRoot, file),
    shape: volumeShape(meta).shape,
    dtype: meta.dtype,
    bytes: st.size,
    checksum,
    session_id: meta.session_id,
    run_uid: isUid(meta.run_uid) ? meta.run_uid : null,
    parent_uid: null,
    created: st.mtime.toISOString(),
    metadata: facts?.metadata ?? metadataFromHeader(meta),
  };
}
