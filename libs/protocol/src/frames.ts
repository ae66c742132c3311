import { z } from "zod";
import { CameraName, Dtype, finite, LaserPreset, SessionId, StagePosition } from "./common";
import { endpoint } from "./endpoint";
import { LaserLine } from "./limits";
import { subjects } from "./subjects";
import { Uid } from "./uid";

/**
 * Start of an acquisition, sent by the hardware service as a request to the
 * writer before the first frame (no writer answering = no acquisition).
 */
export const AcquisitionBegin = z.object({
  acq_id: Uid,
  /** uid the finished volume will carry (also its file name) */
  volume_uid: Uid,
  session_id: SessionId,
  run_uid: Uid.optional(),
  plan_name: z.string().max(64).optional(),
  /** path of the shared-memory ring the frames are in */
  ring_path: z.string(),
  cameras: z.array(CameraName).min(1).max(2),
  /** planes per camera */
  num_slices: z.number().int().min(1).max(100_000),
  width: z.number().int().min(1).max(16_384),
  height: z.number().int().min(1).max(16_384),
  dtype: Dtype,
  pixel_size_um: finite().positive(),
  /** piezo step between slices; 0 for a single plane */
  z_step_um: finite(),
  /** the sheet's sweep, slice i at start + i × step (absent: every plane at the current position) */
  sweep: z
    .object({ piezo_start_um: finite(), piezo_step_um: finite(), galvo_start_deg: finite(), galvo_step_deg: finite() })
    .optional(),
  /** who moved the sheet: the controller ("hardware") or the service slice by slice ("stepped"); with a sweep */
  sweep_mode: z.enum(["hardware", "stepped"]).optional(),
  exposure_ms: finite().positive(),
  laser_config: LaserPreset.optional(),
  /** power of each laser line with power control, percent, when the acquisition started */
  laser_power_pct: z.partialRecord(LaserLine, finite()).optional(),
  position: StagePosition,
  started: z.string().datetime(),
});
export type AcquisitionBegin = z.infer<typeof AcquisitionBegin>;

export const AcquisitionBeginReply = z.object({
  ready: z.literal(true),
  /** who took it, for people: "host:pid" */
  writer: z.string(),
  /**
   * the writer's micro-services instance id: while `$SRV.PING.gently-writer.<id>`
   * answers, that writer may still be reading the acquisition's ring slots
   */
  writer_id: z.string().min(1),
});
export type AcquisitionBeginReply = z.infer<typeof AcquisitionBeginReply>;

/**
 * The writer serves begin on every acquisition's subject (gently.frames.*.begin)
 * in one queue group, so exactly one writer takes each acquisition. The
 * hardware calls it per acquisition: `call(nc, {...frameSink.begin, subject:
 * subjects.frames.begin(acq)}, body)`; an error reply (e.g. disk_full) means
 * no sink is open and the sequence must be refused with that reason.
 */
export const frameSink = {
  begin: endpoint(
    "acquisition-begin",
    subjects.frames.beginAll,
    AcquisitionBegin,
    AcquisitionBeginReply,
    "open a volume file for an acquisition; ready means its frames may flow",
  ),
} as const;

/** One frame sitting in a ring slot. */
export const FrameDescriptor = z.object({
  acq_id: Uid,
  /** 0-based frame index within the acquisition (cameras interleaved) */
  seq: z.number().int().min(0),
  slot: z.number().int().min(0),
  /**
   * the frame's number in the ring, unique over the ring's life (unlike seq, which restarts with
   * every acquisition): readers name the frame by (slot, ring_seq), so a late release can never
   * free a later frame; below 2^48
   */
  ring_seq: z.number().int().min(0).max(2 ** 48 - 1),
  /** index of the slice in the sweep */
  z_index: z.number().int().min(0),
  /** which volume of a continuous sequence the frame belongs to (0: the first, or the only one) */
  volume_index: z.number().int().min(0).optional(),
  camera: CameraName,
  camera_index: z.number().int().min(0),
  width: z.number().int().min(1),
  height: z.number().int().min(1),
  dtype: Dtype,
  bytes: z.number().int().min(1),
  piezo_um: finite(),
  galvo_deg: finite(),
  /** core's exposure timestamp */
  timestamp_us: z.number().int().min(0),
  /** when the descriptor was published */
  published_us: z.number().int().min(0),
});
export type FrameDescriptor = z.infer<typeof FrameDescriptor>;

/** End of an acquisition's frame stream. */
export const AcquisitionEnd = z.object({
  acq_id: Uid,
  volume_uid: Uid,
  status: z.enum(["complete", "aborted", "failed"]),
  frames: z.number().int().min(0),
  /** frames the camera produced that never reached the ring (overrun) */
  dropped: z.number().int().min(0),
  reason: z.string().optional(),
});
export type AcquisitionEnd = z.infer<typeof AcquisitionEnd>;
