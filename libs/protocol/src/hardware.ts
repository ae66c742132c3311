import { z } from "zod";
import { CameraName, finite, LaserPreset, LedPreset, SessionId, StagePosition } from "./common";
import { endpoint } from "./endpoint";
import { FrameDescriptor } from "./frames";
import { LaserLine, Limits } from "./limits";
import { DevicePositions, LiveRequest, LiveStarted } from "./live";
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

/** What the loaded core is and can do. */
export const CoreInfo = z.object({
  /** the core's own version, e.g. "MMCore version 11.1.1" or "gently-sim 1.1" */
  version: z.string(),
  /** Micro-Manager's Device API version; null for cores without one (the simulator) */
  device_api: z.number().int().nullable(),
  /**
   * how volumes are swept: "hardware" = the controller sequences piezo and galvo (ASI Tiger);
   * "stepped" = the service sets them slice by slice and records what the devices read back
   */
  sweep_mode: z.enum(["hardware", "stepped"]),
});
export type CoreInfo = z.infer<typeof CoreInfo>;

export const HwState = z.object({
  /** absolute path of the core library loaded (libgently_sim.so or libgently_mmcore.so) */
  core: z.string(),
  core_info: CoreInfo,
  /** power of each laser line with power control, percent */
  laser_power_pct: z.partialRecord(LaserLine, finite()),
  position: DevicePositions,
  laser: LaserPreset,
  led: LedPreset,
  cameras: z.record(z.string(), CameraState),
  limits: Limits,
  acquisition: z
    .object({
      acq_id: Uid,
      volume_uid: Uid,
      frames_done: z.number().int(),
      frames_total: z.number().int(),
      /** how this acquisition's sweep is run (see core_info.sweep_mode); "hardware" without a sweep */
      sweep_mode: z.enum(["hardware", "stepped"]),
    })
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

/** Volumes one continuous sequence may run back to back (its request names every volume's uids). */
export const MAX_CONTINUOUS_VOLUMES = 2_000;

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
  /**
   * continuous imaging: these volumes follow the first back to back in the same camera sequence,
   * each its own acquisition (frames, begin and end under its acq_id) and file (volume_uid)
   */
  next_volumes: z
    .array(z.object({ acq_id: Uid, volume_uid: Uid }))
    .max(MAX_CONTINUOUS_VOLUMES - 1)
    .optional(),
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

/** Powers to set, percent per line; each is checked against its cap first (with any violation nothing changes). */
export const LaserPowerRequest = z.object({
  powers_pct: z
    .partialRecord(LaserLine, finite())
    .refine((p) => Object.keys(p).length > 0, "name at least one laser line (405, 488, 561, 637)"),
});
export type LaserPowerRequest = z.infer<typeof LaserPowerRequest>;
/** Every line's power as read back from the device after the change. */
export const LaserPowerReply = z.object({ powers_pct: z.partialRecord(LaserLine, finite()) });

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
  laserPower: endpoint(
    "laser-power",
    subjects.hw.laserPower,
    LaserPowerRequest,
    LaserPowerReply,
    "set laser line powers (percent, refused above each line's cap) and read them back",
  ),
  startLive: endpoint(
    "live-start",
    subjects.hw.startLive,
    LiveRequest,
    LiveStarted,
    "stream one camera as previews on gently.device.preview until sequence.stop, silence or max_duration_s; lasers off after",
  ),
} as const;
