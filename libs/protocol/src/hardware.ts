import { z } from "zod";
import { CameraName, finite, LaserPreset, LedPreset, SessionId, StagePosition } from "./common";
import { endpoint } from "./endpoint";
import { FrameDescriptor } from "./frames";
import { Limits } from "./limits";
import { LiveRequest, LiveStarted } from "./live";
import { subjects } from "./subjects";
import { Uid } from "./uid";

export { DEVICES } from "./devices";

export const Roi = z.object({
  x: z.number().int().min(0),
  y: z.number().int().min(0),
  width: z.number().int().min(1),
  height: z.number().int().min(1),
});
export type Roi = z.infer<typeof Roi>;

export const CameraState = z.object({
  exposure_ms: finite(),
  /** in unbinned sensor pixels */
  roi: Roi,
  /** size of one frame pixel at the sample (binning included) */
  pixel_size_um: finite(),
  sensor: z.object({ width: z.number().int(), height: z.number().int() }),
});

export const HwState = z.object({
  /** absolute path of the core library loaded (libgently_sim.so or libgently_mmcore.so) */
  core: z.string(),
  position: z.object({
    x_um: finite(),
    y_um: finite(),
    z_um: finite(),
    f_um: finite(),
    piezo_um: finite(),
    galvo_a_deg: finite(),
    galvo_b_deg: finite(),
  }),
  laser: LaserPreset,
  led: LedPreset,
  cameras: z.record(z.string(), CameraState),
  limits: Limits,
  acquisition: z
    .object({ acq_id: Uid, volume_uid: Uid, frames_done: z.number().int(), frames_total: z.number().int() })
    .nullable(),
  ring: z.object({ path: z.string(), slots: z.number().int(), slot_bytes: z.number().int(), free: z.number().int() }),
  owner: z.object({ instance: z.string(), host: z.string(), pid: z.number().int(), since: z.string() }),
});
export type HwState = z.infer<typeof HwState>;

/**
 * One axis per request; limits are checked first and a target outside them
 * moves nothing. "galvo" is the scanner's B (slice) axis; A is left alone.
 * Piezo targets are rounded to the piezo's resolution (0.001 µm).
 */
export const MoveRequest = z.discriminatedUnion("axis", [
  z.object({ axis: z.literal("xy"), x_um: finite(), y_um: finite() }),
  z.object({ axis: z.literal("z"), z_um: finite() }),
  z.object({ axis: z.literal("fdrive"), f_um: finite() }),
  z.object({ axis: z.literal("piezo"), piezo_um: finite() }),
  z.object({ axis: z.literal("galvo"), galvo_deg: finite() }),
]);
export type MoveRequest = z.infer<typeof MoveRequest>;

export const PresetRequest = z.discriminatedUnion("group", [
  z.object({ group: z.literal("Laser"), preset: LaserPreset }),
  z.object({ group: z.literal("LED"), preset: LedPreset }),
]);
export type PresetRequest = z.infer<typeof PresetRequest>;

export const CameraRequest = z.object({
  camera: CameraName,
  exposure_ms: finite().positive().optional(),
  roi: Roi.optional(),
});

/** What the data of an acquisition belongs to: carried into the file and the index. */
export const AcquisitionOwner = z.object({
  volume_uid: Uid,
  session_id: SessionId,
  run_uid: Uid.optional(),
  plan_name: z.string().max(64).optional(),
});

export const Sweep = z.object({
  piezo_start_um: finite(),
  piezo_step_um: finite(),
  galvo_start_deg: finite(),
  galvo_step_deg: finite(),
});
export type Sweep = z.infer<typeof Sweep>;

export const SequenceRequest = AcquisitionOwner.extend({
  acq_id: Uid,
  cameras: z.array(CameraName).min(1).max(2),
  num_slices: z.number().int().min(1),
  exposure_ms: finite().positive(),
  sweep: Sweep.optional(),
  /** lasers on during the sequence; always back to "ALL OFF" after */
  laser_config: LaserPreset,
  /** the caller must send gently.hw.keepalive at least this often, or the sequence is stopped and lasers go off */
  keepalive_ms: z.number().int().min(200).max(60_000).default(5_000),
});
export type SequenceRequest = z.infer<typeof SequenceRequest>;

export const SequenceStarted = z.object({ acq_id: Uid, volume_uid: Uid, frames_total: z.number().int() });

export const SnapRequest = AcquisitionOwner.extend({
  acq_id: Uid,
  camera: CameraName,
  exposure_ms: finite().positive().optional(),
  /** illumination during the snap; lasers are "ALL OFF" after */
  laser_config: LaserPreset.optional(),
  led: LedPreset.optional(),
});
export type SnapRequest = z.infer<typeof SnapRequest>;

export const SnapReply = z.object({ frame: FrameDescriptor, position: StagePosition });

export const StopRequest = z.object({ acq_id: Uid.optional(), reason: z.string().max(500).default("stopped by request") });
export const StopReply = z.object({ stopped: z.boolean(), acq_id: Uid.optional() });

export const KeepaliveRequest = z.object({ acq_id: Uid });
export const KeepaliveReply = z.object({ ok: z.literal(true), frames_done: z.number().int() });

export const hw = {
  state: endpoint("state", subjects.hw.state, z.object({}), HwState, "positions, presets, cameras, limits, acquisition and ring state"),
  move: endpoint("move", subjects.hw.move, MoveRequest, HwState, "move one axis after checking its limits"),
  setPreset: endpoint("preset", subjects.hw.setPreset, PresetRequest, HwState, "set a Laser or LED preset"),
  setCamera: endpoint("camera", subjects.hw.setCamera, CameraRequest, HwState, "set a camera's exposure and ROI"),
  snap: endpoint("snap", subjects.hw.snap, SnapRequest, SnapReply, "expose one frame into the ring and hand it to the writer"),
  startSequence: endpoint(
    "sequence-start",
    subjects.hw.startSequence,
    SequenceRequest,
    SequenceStarted,
    "start a light-sheet sweep; frames go to the ring and are announced on gently.frames.<acq>",
  ),
  stopSequence: endpoint("sequence-stop", subjects.hw.stopSequence, StopRequest, StopReply, "stop the running sequence; lasers off"),
  keepalive: endpoint("keepalive", subjects.hw.keepalive, KeepaliveRequest, KeepaliveReply, "the acquisition's owner is alive"),
  startLive: endpoint(
    "live-start",
    subjects.hw.startLive,
    LiveRequest,
    LiveStarted,
    "stream one camera as previews on gently.device.preview until sequence.stop, silence or max_duration_s; lasers off after",
  ),
} as const;
