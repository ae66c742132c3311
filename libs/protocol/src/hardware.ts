import { z } from "zod";
import { CameraName, finite, LaserPreset, LedPreset, SessionId, StagePosition } from "./common";
import { endpoint } from "./endpoint";
import { FrameDescriptor } from "./frames";
import { subjects } from "./subjects";
import { Uid } from "./uid";

/** Device labels of the diSPIM, as in its Micro-Manager configuration. */
export const DEVICES = {
  xyStage: "XYStage:XY:31",
  zStage: "ZStage:Z:32",
  fDrive: "ZStage:V:37",
  piezo: "PiezoStage:P:34",
  scanner: "Scanner:AB:33",
  lightSheetCameras: ["HamCam1", "HamCam2"],
  bottomCamera: "Bottom PCO",
} as const;

/** Inclusive travel range of one axis. */
export const Range = z.object({ min: finite(), max: finite() });
export type Range = z.infer<typeof Range>;

/** The configured limits: the only guard (MMCore has no limits API). */
export const Limits = z.object({
  x_um: Range,
  y_um: Range,
  z_um: Range,
  f_um: Range,
  piezo_um: Range,
  galvo_deg: Range,
  exposure_ms: Range,
  num_slices: Range,
});
export type Limits = z.infer<typeof Limits>;

/** One limit a request would break: device, value and the limit. */
export const LimitViolation = z.object({
  device: z.string(),
  /** parameter name, e.g. x_um */
  field: z.string(),
  value: z.number(),
  min: z.number(),
  max: z.number(),
  /** where in a plan the target came from (e.g. "timepoint 3, slice 12") */
  where: z.string().optional(),
});
export type LimitViolation = z.infer<typeof LimitViolation>;

export const Roi = z.object({
  x: z.number().int().min(0),
  y: z.number().int().min(0),
  width: z.number().int().min(1),
  height: z.number().int().min(1),
});
export type Roi = z.infer<typeof Roi>;

export const CameraState = z.object({
  exposure_ms: finite(),
  roi: Roi,
  pixel_size_um: finite(),
  sensor: z.object({ width: z.number().int(), height: z.number().int() }),
});

export const HwState = z.object({
  /** which core library is loaded (sim or mmcore) */
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
} as const;
