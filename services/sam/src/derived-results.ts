import { mkdir } from "node:fs/promises";
import path from "node:path";
import { writeDerivedItem, writeDerivedSidecar } from "@gently/derived";
import { derivedPathFor } from "@gently/storage";
import { createOmeTiffSink, SinkError } from "@gently/ome-tiff";
import { GentlyError, isUid, SessionId, type DerivedWritten, type Uid } from "@gently/protocol";
import type { LabelMask } from "./label-mask";
import type { SourceImage } from "./image-source";

/**
 * The two files a detection leaves under {storage}/derived/, each with its
 * `.meta.json` sidecar (the datastore convention):
 *   {mask_uid}.ome.tif  the label mask, data_type "analysis"
 *   {detection_uid}.json the detections, data_type "detection"
 * Both have the image as parent_uid: the image is what they describe, and a
 * lineage walk from either reaches it in one step. They name each other in
 * their metadata (mask → detection_uid, detections → mask_uid).
 */

export const MASK_EXT = "ome.tif";
export const DETECTIONS_EXT = "json";

export interface Provenance {
  image: SourceImage;
  detection_uid: Uid;
  mask_uid: Uid;
  /** the run that asked; else the image's own run, when it has one */
  run_uid?: Uid;
}

/** Lineage facts shared by both items: session and run of the image unless the caller names its run. */
function lineage(p: Provenance): { parent_uid: Uid; session_id?: string; run_uid?: Uid } {
  const session = SessionId.safeParse(p.image.meta.session_id);
  const run = p.run_uid ?? (isUid(p.image.meta.run_uid) ? p.image.meta.run_uid : undefined);
  return {
    parent_uid: p.image.uid,
    ...(session.success ? { session_id: session.data } : {}),
    ...(run ? { run_uid: run } : {}),
  };
}

/** Writes the label mask as a single-plane OME-TIFF (temp, fsync, rename, fsync dir) and its sidecar. */
export async function writeLabelMask(storage: string, p: Provenance, mask: LabelMask, metadata: Record<string, unknown>): Promise<DerivedWritten> {
  const file = derivedPathFor(storage, p.mask_uid, MASK_EXT);
  const src = p.image.meta;
  const facts = lineage(p);
  try {
    await mkdir(path.dirname(file), { recursive: true });
    const sink = await createOmeTiffSink({
      finalPath: file,
      meta: {
        uid: p.mask_uid,
        session_id: src.session_id,
        run_uid: facts.run_uid ?? src.run_uid,
        plan_name: "sam.detect",
        dtype: mask.dtype,
        size_x: mask.width,
        size_y: mask.height,
        size_z: 1,
        pixel_size_um: src.pixel_size_um,
        z_step_um: src.z_step_um,
        exposure_ms: 0,
        channels: [{ camera: src.channels[p.image.channel]?.camera ?? "unknown", laser: "embryo labels" }],
        stage_position_um: src.stage_position_um,
        // The labels describe the scene as it was when the image was taken.
        acquired_at: src.acquired_at,
        extra: { kind: "label_mask", parent_uid: p.image.uid, detection_uid: p.detection_uid, labels: String(mask.labels) },
      },
    });
    try {
      await sink.appendPlane(mask.data);
    } catch (err) {
      await sink.abort().catch(() => undefined);
      throw err;
    }
    const result = await sink.finalize();
    return await writeDerivedSidecar(result.path, {
      uid: p.mask_uid,
      data_type: "analysis",
      ...facts,
      shape: result.shape,
      dtype: result.dtype,
      metadata: { kind: "label_mask", detection_uid: p.detection_uid, labels: mask.labels, ...metadata },
    });
  } catch (err) {
    throw storageError(err, file);
  }
}

/** Writes the detections JSON (exclusive, temp + fsync + link) and its sidecar. */
export async function writeDetections(storage: string, p: Provenance, document: unknown, metadata: Record<string, unknown>): Promise<DerivedWritten> {
  const bytes = new TextEncoder().encode(JSON.stringify(document, null, 2) + "\n");
  try {
    return await writeDerivedItem(
      storage,
      { uid: p.detection_uid, ext: DETECTIONS_EXT, data_type: "detection", ...lineage(p), metadata: { mask_uid: p.mask_uid, ...metadata } },
      bytes,
    );
  } catch (err) {
    throw storageError(err, derivedPathFor(storage, p.detection_uid, DETECTIONS_EXT));
  }
}

function storageError(err: unknown, file: string): GentlyError {
  if (err instanceof GentlyError) return err;
  const code = err instanceof SinkError ? err.code : (err as NodeJS.ErrnoException)?.code;
  const message = `writing ${file}: ${(err as Error)?.message ?? String(err)}`;
  if (code === "disk_full" || code === "ENOSPC" || code === "EDQUOT") return new GentlyError("disk_full", message);
  if (code === "not_writable" || code === "EACCES" || code === "EPERM" || code === "EROFS") return new GentlyError("not_writable", message);
  return new GentlyError("internal", message);
}
