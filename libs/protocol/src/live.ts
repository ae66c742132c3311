import { z } from "zod";
import { CameraName, finite, LaserPreset, LedPreset } from "./common";
import { Uid } from "./uid";

/** The longest side of a preview image. */
export const PREVIEW_MAX_SIDE = 512;
/** At most this many previews per second and camera. */
export const PREVIEW_MAX_PER_S = 10;
/** While idle the hardware publishes its device state this often (≥ 2 per second). */
export const DEVICE_STATE_INTERVAL_MS = 250;

/**
 * A reduced copy of a camera frame for people watching (never for analysis:
 * the file is the data). Block means of `bin`×`bin` pixels, little-endian
 * uint16, row-major, base64. Published on `gently.device.preview` while a
 * sequence, a snap or live view runs; dropped first whenever the frame path
 * is busy, so it never slows or drops a real frame.
 */
export const PreviewFrame = z.object({
  camera: CameraName,
  /** what produced the frame */
  source: z.enum(["sequence", "snap", "live"]),
  acq_id: Uid,
  run_uid: Uid.optional(),
  /** frame index within its acquisition */
  seq: z.number().int().min(0),
  z_index: z.number().int().min(0),
  /** the preview's size */
  width: z.number().int().min(1).max(PREVIEW_MAX_SIDE),
  height: z.number().int().min(1).max(PREVIEW_MAX_SIDE),
  /** frame pixels per preview pixel along each side */
  bin: z.number().int().min(1).max(64),
  /** the full frame's size */
  frame_width: z.number().int().min(1),
  frame_height: z.number().int().min(1),
  /** size of one preview pixel at the sample */
  pixel_size_um: finite().positive(),
  exposure_ms: finite().positive(),
  piezo_um: finite(),
  galvo_deg: finite(),
  /** lowest and highest preview value */
  min: z.number().int().min(0).max(65_535),
  max: z.number().int().min(0).max(65_535),
  /** width × height uint16 little-endian, base64 */
  pixels: z.string(),
  /** camera timestamp of the frame (core clock, µs) */
  timestamp_us: finite(),
  /** wall clock when the preview was published (µs since the epoch): frame-to-screen latency starts here */
  published_us: finite(),
});
export type PreviewFrame = z.infer<typeof PreviewFrame>;

/** Every axis's position, as the hardware state and the published device state both report it. */
export const DevicePositions = z.object({
  x_um: finite(),
  y_um: finite(),
  z_um: finite(),
  f_um: finite(),
  piezo_um: finite(),
  galvo_a_deg: finite(),
  galvo_b_deg: finite(),
});

/** What the hardware is doing with its cameras. */
export const DeviceActivity = z.object({
  kind: z.enum(["sequence", "snap", "live"]),
  acq_id: Uid,
  run_uid: Uid.optional(),
  plan_name: z.string().max(64).optional(),
  cameras: z.array(CameraName).min(1).max(2),
  frames_done: z.number().int().min(0),
  /** 0 for live view (it runs until stopped) */
  frames_total: z.number().int().min(0),
});
export type DeviceActivity = z.infer<typeof DeviceActivity>;

/**
 * Positions read back from the devices (not the last targets), presets and
 * activity, published on `gently.device.state` every
 * DEVICE_STATE_INTERVAL_MS and after each change. Anyone may listen; only
 * the plan runner may change anything (gently.hw.*).
 */
export const DeviceState = z.object({
  position: DevicePositions,
  laser: LaserPreset,
  led: LedPreset,
  activity: DeviceActivity.nullable(),
  published_us: finite(),
});
export type DeviceState = z.infer<typeof DeviceState>;

/** Live view: one camera streams previews (no file) until stopped, its owner goes silent, or max_duration_s. */
export const LiveRequest = z.object({
  acq_id: Uid,
  run_uid: Uid.optional(),
  plan_name: z.string().max(64).optional(),
  camera: CameraName,
  exposure_ms: finite().positive(),
  laser_config: LaserPreset,
  led: LedPreset.default("Closed"),
  max_duration_s: finite().positive().max(3_600),
  keepalive_ms: z.number().int().min(200).max(60_000).default(5_000),
});
export type LiveRequest = z.infer<typeof LiveRequest>;
export const LiveStarted = z.object({ acq_id: Uid });
