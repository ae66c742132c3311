import { z } from "zod";
import { Dtype, finite, LaserPreset, SessionId, StagePosition } from "./common";
import { Uid } from "./uid";

export const Checksum = z.object({
  algorithm: z.string(),
  hex: z.string().regex(/^[0-9a-f]+$/),
});

/**
 * Announced after a volume file is complete, fsynced and renamed into place.
 * Metadata only: this message stays under 2 KB whatever the volume size.
 */
/**
 * A file's path relative to the storage root, '/'-separated
 * ("volumes/<uid>.tif"): the same on every host, whatever drive or mount
 * the storage is on there. Never absolute, never leaving the root.
 */
export const StoragePath = z
  .string()
  .min(1)
  .max(1024)
  .refine((p) => !p.startsWith("/") && !p.includes("\\") && !p.includes(":") && !p.split("/").some((part) => part === "" || part === "." || part === ".."), {
    error: (issue) =>
      `storage path '${String(issue.input)}' must be relative and '/'-separated, with no empty, '.' or '..' part, no '\\' and no ':' (drive letters)`,
  });

export const VolumeWritten = z.object({
  uid: Uid,
  /** "image" for a single plane (a snap), "volume" for a stack */
  data_type: z.enum(["image", "volume"]),
  /** absolute path on the writer's host (e.g. D:\gently\storage\volumes\<uid>.tif on a Windows instrument PC) */
  path: z.string(),
  /** the same file relative to the storage root: hosts that mount the storage elsewhere join it to their own root (absent in messages stored before it existed) */
  storage_path: StoragePath.optional(),
  /** [z, y, x], or [z, c, y, x] for two cameras (planes interleaved per slice, as acquired); metadata.dimension_order names the axes */
  shape: z.array(z.number().int().min(1)).min(2).max(5),
  dtype: Dtype,
  session_id: SessionId,
  run_uid: Uid.optional(),
  bytes: z.number().int().min(0),
  checksum: Checksum,
  created: z.string().datetime(),
  metadata: z.object({
    /** letters of `shape`, slowest first: "ZYX" or "ZCYX" */
    dimension_order: z.string(),
    cameras: z.array(z.string()),
    pixel_size_um: finite(),
    z_step_um: finite(),
    exposure_ms: finite(),
    laser_config: LaserPreset.optional(),
    /** who moved the sheet through the volume: the controller ("hardware") or the hardware service slice by slice ("stepped") */
    sweep_mode: z.enum(["hardware", "stepped"]).optional(),
    position: StagePosition,
    plan_name: z.string().optional(),
    acq_id: Uid.optional(),
    dropped_frames: z.number().int().min(0),
  }),
});
export type VolumeWritten = z.infer<typeof VolumeWritten>;

export const VolumeFailed = z.object({
  uid: Uid,
  session_id: SessionId.optional(),
  run_uid: Uid.optional(),
  reason: z.string(),
  code: z.string(),
  /** where the partial file was moved, if it was kept */
  quarantined_path: z.string().optional(),
  failed: z.string().datetime(),
});
export type VolumeFailed = z.infer<typeof VolumeFailed>;

/** The copilot-facing result of an acquisition: where the data is, not the data. */
export const VolumeRef = VolumeWritten.pick({ uid: true, path: true, shape: true, dtype: true, session_id: true });
export type VolumeRef = z.infer<typeof VolumeRef>;
