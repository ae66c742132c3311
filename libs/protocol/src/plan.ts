import { z } from "zod";
import { CameraName, finite, LaserPreset, LedPreset, LightSheetCamera, SessionId } from "./common";
import { endpoint } from "./endpoint";
import { LimitViolation } from "./limits";
import { subjects } from "./subjects";
import { Uid } from "./uid";

/**
 * Plans: the copilot's only door to the microscope. Each plan is a zod schema
 * of its parameters (snake_case, units in the names, ranges in the
 * descriptions); the LLM tool definitions, the CLI flags and the plan
 * runner's validation are all generated from these same schemas.
 *
 * Static ranges here are sanity bounds; every position and exposure is also
 * checked against the instrument's configured limits (read them with the
 * `status` plan) before anything moves.
 */

const LIMITS_NOTE = "checked against the instrument's limits before anything moves";

const uniqueCameras = z
  .array(LightSheetCamera)
  .min(1)
  .max(2)
  .refine((c) => new Set(c).size === c.length, "cameras must not repeat")
  .meta({ uniqueItems: true });

/** Parameters of one light-sheet volume (a piezo + galvo sweep), shared by acquire_volume and timelapse_volume. */
export const VolumeParams = z.object({
  num_slices: z
    .number()
    .int()
    .min(1)
    .max(10_000)
    .default(100)
    .describe(`slices per volume per camera, 1-10000 (${LIMITS_NOTE})`),
  exposure_ms: z
    .number()
    .positive()
    .max(10_000)
    .default(5)
    .describe(`camera exposure per slice in milliseconds, >0-10000 (${LIMITS_NOTE})`),
  piezo_center_um: finite()
    .default(50)
    .describe(`centre of the sweep of the detection piezo in micrometres; every slice's position is ${LIMITS_NOTE}`),
  piezo_amplitude_um: z
    .number()
    .min(0)
    .max(10_000)
    .default(25)
    .describe("half-range of the piezo sweep in micrometres: slices go evenly from centre - amplitude to centre + amplitude"),
  galvo_center_deg: finite()
    .default(0)
    .describe(`centre of the galvo (light-sheet) sweep in degrees; every slice's angle is ${LIMITS_NOTE}`),
  galvo_amplitude_deg: z
    .number()
    .min(0)
    .max(90)
    .default(0.5)
    .describe("half-range of the galvo sweep in degrees: slices go evenly from centre - amplitude to centre + amplitude"),
  laser_config: LaserPreset.default("488 and 561").describe("laser preset during the sweep; lasers are switched off after"),
  cameras: uniqueCameras.default(["HamCam1"]).describe("light-sheet cameras to record, one or both of HamCam1, HamCam2"),
});
export type VolumeParams = z.output<typeof VolumeParams>;

/** Move the XY stage to an absolute position. */
export const MoveStageParams = z
  .object({
    x_um: finite().describe(`target X of the XY stage in micrometres (${LIMITS_NOTE})`),
    y_um: finite().describe(`target Y of the XY stage in micrometres (${LIMITS_NOTE})`),
  })
  .strict();

/** Read where the stages, the piezo and the galvo are. */
export const GetPositionParams = z.object({}).strict();

/** Acquire one light-sheet volume into an OME-TIFF; returns its uid and path. */
export const AcquireVolumeParams = VolumeParams.strict();

/** Snap one brightfield frame with the bottom camera. */
export const SnapBottomParams = z
  .object({
    exposure_ms: z.number().positive().max(10_000).default(10).describe(`exposure in milliseconds, >0-10000 (${LIMITS_NOTE})`),
    led: LedPreset.default("Open").describe("LED during the snap (brightfield needs Open)"),
  })
  .strict();

/** Snap one light-sheet frame at a given piezo position and galvo angle. */
export const SnapLightsheetParams = z
  .object({
    piezo_um: finite().describe(`piezo (detection focus) position in micrometres (${LIMITS_NOTE})`),
    galvo_deg: finite().describe(`galvo (light-sheet) angle in degrees (${LIMITS_NOTE})`),
    laser_config: LaserPreset.default("488 only").describe("laser preset during the snap; lasers are switched off after"),
    exposure_ms: z.number().positive().max(10_000).default(5).describe(`exposure in milliseconds, >0-10000 (${LIMITS_NOTE})`),
    camera: LightSheetCamera.default("HamCam1").describe("light-sheet camera"),
  })
  .strict();

/** Stream one camera to the viewer (previews only, no file) until stopped or for at most duration_s. */
export const LiveViewParams = z
  .object({
    camera: CameraName.default("HamCam1").describe("camera to stream: HamCam1, HamCam2 (light sheet) or Bottom PCO (brightfield)"),
    exposure_ms: z.number().positive().max(10_000).default(20).describe(`exposure per frame in milliseconds, >0-10000 (${LIMITS_NOTE})`),
    piezo_um: finite().optional().describe(`piezo (detection focus) position in micrometres; default: where it is now (${LIMITS_NOTE})`),
    galvo_deg: finite().optional().describe(`galvo (light-sheet) angle in degrees; default: where it is now (${LIMITS_NOTE})`),
    laser_config: LaserPreset.default("488 only").describe("laser preset while streaming (use \"ALL OFF\" for brightfield); lasers are switched off after"),
    led: LedPreset.default("Closed").describe("LED while streaming (Open for the bottom camera's brightfield)"),
    duration_s: z.number().positive().max(3_600).default(60).describe("longest the stream runs in seconds, >0-3600; stop or abort the run to end it sooner"),
  })
  .strict();

/** Acquire a series of volumes, one every interval_s (start to start). */
export const TimelapseVolumeParams = VolumeParams.extend({
  num_timepoints: z.number().int().min(1).max(100_000).describe("number of volumes, 1-100000"),
  interval_s: z
    .number()
    .min(0)
    .max(86_400)
    .describe(
      "time from the start of one volume to the start of the next in seconds, 0-86400; not shorter than one volume (num_slices × exposure_ms); 0: back to back in one continuous camera sequence",
    ),
}).strict();

/** Snap a light-sheet frame at each galvo angle and score its focus; returns the score per angle and the best. */
export const FocusSweepParams = z
  .object({
    galvo_positions_deg: z
      .array(finite())
      .min(2)
      .max(401)
      .describe(`galvo angles to try in degrees, 2-401 of them (${LIMITS_NOTE})`),
    piezo_um: finite().optional().describe(`piezo position for the sweep in micrometres; default: where it is now (${LIMITS_NOTE})`),
    laser_config: LaserPreset.default("488 only").describe("laser preset during the snaps; lasers are switched off after"),
    exposure_ms: z.number().positive().max(10_000).default(5).describe(`exposure per snap in milliseconds, >0-10000 (${LIMITS_NOTE})`),
    camera: LightSheetCamera.default("HamCam1").describe("light-sheet camera"),
  })
  .strict();

/** Default galvo grid of a calibration: -1..1 degree in 0.05 degree steps. */
export const DEFAULT_CALIBRATION_GALVO_DEG = Array.from({ length: 41 }, (_, i) => Number((-1 + i * 0.05).toFixed(2)));

/**
 * Focus sweep at each piezo position, then a linear fit of the best galvo
 * angle against the piezo position (galvo = slope * piezo + offset, with r²),
 * stored as a calibration record.
 */
export const CalibratePiezoGalvoParams = z
  .object({
    piezo_positions_um: z
      .array(finite())
      .min(2)
      .max(50)
      .describe(`piezo positions in micrometres to calibrate at, 2-50 of them (${LIMITS_NOTE})`),
    galvo_positions_deg: z
      .array(finite())
      .min(3)
      .max(401)
      .default(DEFAULT_CALIBRATION_GALVO_DEG)
      .describe(`galvo angles of the focus sweep at each piezo position in degrees, 3-401 of them; default -1 to 1 in 0.05 steps (${LIMITS_NOTE})`),
    laser_config: LaserPreset.default("488 only").describe("laser preset during the snaps; lasers are switched off after"),
    exposure_ms: z.number().positive().max(10_000).default(5).describe(`exposure per snap in milliseconds, >0-10000 (${LIMITS_NOTE})`),
    camera: LightSheetCamera.default("HamCam1").describe("light-sheet camera"),
  })
  .strict();

/** Switch the lasers, the LED, or both; what is not given is left as it is. */
export const SetIlluminationParams = z
  .object({
    laser_config: LaserPreset.optional().describe("laser preset to switch to"),
    led: LedPreset.optional().describe("LED state to switch to"),
  })
  .strict()
  .refine((p) => p.laser_config !== undefined || p.led !== undefined, "give laser_config, led, or both")
  .meta({ minProperties: 1 });

/** Read the laser preset and the LED state. */
export const GetIlluminationParams = z.object({}).strict();

const linePower = (nm: string) =>
  z
    .number()
    .finite()
    .min(0)
    .max(100)
    .optional()
    .describe(`power of the ${nm} nm laser line in percent of its maximum; refused above its cap in the microscope's limits (hw.state limits.laser_power_pct)`);

/** Set the power of one or more laser lines; every line's power is read back. */
export const SetLaserPowerParams = z
  .object({
    power_405_pct: linePower("405"),
    power_488_pct: linePower("488"),
    power_561_pct: linePower("561"),
    power_637_pct: linePower("637"),
  })
  .strict()
  .refine((p) => Object.values(p).some((v) => v !== undefined), "give the power of at least one line (power_405_pct, power_488_pct, power_561_pct, power_637_pct)")
  .meta({ minProperties: 1 });

/** Find embryos in an image (a bottom-camera snap) with the SAM service. */
export const DetectEmbryosParams = z
  .object({
    image_uid: Uid.describe("uid of the image to search, as returned by snap_bottom"),
  })
  .strict();

/** The microscope's state: positions, illumination, limits and what the plan runner is doing. */
export const StatusParams = z.object({}).strict();

/** The allow-list: plan name → parameters schema and one-paragraph description for the LLM. */
export const PLANS = {
  move_stage: {
    params: MoveStageParams,
    description: "Move the XY stage to an absolute position (x_um, y_um). Checked against the stage limits before moving.",
  },
  get_position: {
    params: GetPositionParams,
    description: "Read the current positions: XY stage, Z stage, F-drive (µm), piezo (µm) and galvo (degrees).",
  },
  acquire_volume: {
    params: AcquireVolumeParams,
    description:
      "Acquire one light-sheet volume: num_slices slices sweeping piezo and galvo together around their centres, written to an OME-TIFF. Returns the volume's uid, path, shape and dtype (never pixels).",
  },
  snap_bottom: {
    params: SnapBottomParams,
    description: "Snap one brightfield frame with the bottom camera (LED on). Returns the image's uid and path; use it with detect_embryos.",
  },
  snap_lightsheet: {
    params: SnapLightsheetParams,
    description: "Snap one light-sheet frame at a piezo position and galvo angle with a laser preset. Returns the image's uid and path.",
  },
  live_view: {
    params: LiveViewParams,
    description:
      "Show one camera live in the viewer (reduced previews, about 10 per second; nothing is written to disk) with the given exposure, piezo, galvo, laser and LED, until the run is stopped or duration_s has passed. Lasers are switched off after.",
  },
  timelapse_volume: {
    params: TimelapseVolumeParams,
    description:
      "Acquire num_timepoints light-sheet volumes, one every interval_s seconds (start to start), with the same sweep each time; interval_s 0 runs them back to back in one camera sequence (continuous imaging, each volume its own file, reported as it is written). Every slice of every timepoint is checked before the first moves. Returns the uids of all volumes.",
  },
  focus_sweep: {
    params: FocusSweepParams,
    description:
      "Snap a light-sheet frame at each galvo angle (at one piezo position) and score its sharpness (FFT band-pass energy). Returns the score per angle and the best angle.",
  },
  calibrate_piezo_galvo: {
    params: CalibratePiezoGalvoParams,
    description:
      "Calibrate the light sheet to the detection focus: a focus sweep at each piezo position, then a linear fit galvo_deg = slope * piezo_um + offset with r². Stores the fit as a calibration record and returns it.",
  },
  set_illumination: {
    params: SetIlluminationParams,
    description: "Switch the laser preset and/or the LED. Lasers stay as set until another plan or set_illumination changes them.",
  },
  get_illumination: {
    params: GetIlluminationParams,
    description: "Read the current laser preset and LED state.",
  },
  set_laser_power: {
    params: SetLaserPowerParams,
    description:
      "Set the power of laser lines (percent of each line's maximum) and read every line's power back. Each line has a cap (e.g. 488 nm at 6 %); a power above it is refused before anything changes. The power applies whenever a preset switches that line on.",
  },
  detect_embryos: {
    params: DetectEmbryosParams,
    description: "Detect embryos in an image (normally a snap_bottom image) with the SAM service. Returns one record per embryo with its stage position.",
  },
  status: {
    params: StatusParams,
    description: "The microscope's state (positions, illumination, camera settings, travel limits) and the plan runner's (current run, queue).",
  },
} as const satisfies Record<string, { params: z.ZodType; description: string }>;

export type PlanName = keyof typeof PLANS;
export const PLAN_NAMES = Object.keys(PLANS) as PlanName[];
export type PlanParams<P extends PlanName> = z.input<(typeof PLANS)[P]["params"]>;
export type ParsedPlanParams<P extends PlanName> = z.output<(typeof PLANS)[P]["params"]>;

export function isPlanName(name: string): name is PlanName {
  return Object.prototype.hasOwnProperty.call(PLANS, name);
}

/** One LLM tool definition: JSON Schema generated from the plan's zod schema. */
export const ToolDefinition = z.object({
  name: z.string(),
  description: z.string(),
  input_schema: z.record(z.string(), z.unknown()),
});
export type ToolDefinition = z.infer<typeof ToolDefinition>;

/** Every plan as a tool definition; the schema is generated, never written twice. */
export function planTools(): ToolDefinition[] {
  return PLAN_NAMES.map((name) => ({
    name,
    description: PLANS[name].description,
    // "input": defaulted fields are optional to the caller, as zod parses them.
    input_schema: z.toJSONSchema(PLANS[name].params, { io: "input" }) as Record<string, unknown>,
  }));
}

// ── the plan runner's endpoints ────────────────────────────────────────────

export const SubmitRequest = z.object({
  plan: z.string().min(1).max(64),
  params: z.record(z.string(), z.unknown()).default({}),
  /** the session the data belongs to; default "default" */
  session_id: SessionId.optional(),
});
export type SubmitRequest = z.input<typeof SubmitRequest>;

export const SubmitReply = z.object({
  run_uid: Uid,
  plan: z.string(),
  /** 0: running now; n: n runs ahead of it */
  position: z.number().int().min(0),
});
export type SubmitReply = z.infer<typeof SubmitReply>;

export const RunPhase = z.enum(["queued", "running", "acquiring", "waiting", "pausing", "paused", "stopping", "aborting", "teardown", "done"]);
export type RunPhase = z.infer<typeof RunPhase>;

/** A run waiting in the queue. */
export const QueuedRun = z.object({
  run_uid: Uid,
  plan: z.string(),
  params: z.record(z.string(), z.unknown()),
  session_id: SessionId,
  submitted: z.string().datetime(),
});
export type QueuedRun = z.infer<typeof QueuedRun>;

/** The run in progress. */
export const ActiveRun = QueuedRun.extend({
  started: z.string().datetime(),
  phase: RunPhase,
  /** progress units done / total (frames for acquisitions, one per other step) */
  done: z.number().min(0),
  total: z.number().min(0),
});
export type ActiveRun = z.infer<typeof ActiveRun>;

export const QueueReply = z.object({ current: ActiveRun.nullable(), queued: z.array(QueuedRun) });
export type QueueReply = z.infer<typeof QueueReply>;

export const RunnerStatus = z.object({
  state: z.enum(["idle", "running", "pausing", "paused", "stopping", "aborting"]),
  current: ActiveRun.nullable(),
  queue_length: z.number().int().min(0),
  /** runs finished since this plan runner started */
  finished: z.number().int().min(0),
});
export type RunnerStatus = z.infer<typeof RunnerStatus>;

export const RunTarget = z.object({ run_uid: Uid.optional() });
export const AbortRequest = RunTarget.extend({ reason: z.string().max(500).default("aborted by request") });
export const ControlReply = z.object({
  run_uid: Uid,
  /** what the request did: a queued run is simply dropped */
  effect: z.enum(["pausing", "paused", "resumed", "stopping", "aborting", "removed"]),
});
export type ControlReply = z.infer<typeof ControlReply>;

export const QueueMoveRequest = z.object({ run_uid: Uid, position: z.number().int().min(1) });
export const QueueRemoveRequest = z.object({ run_uid: Uid });

export const ExitStatus = z.enum(["success", "abort", "fail"]);
export type ExitStatus = z.infer<typeof ExitStatus>;

/** A finished run, as the history lists it (built from its start and stop documents). */
export const HistoryEntry = z.object({
  run_uid: Uid,
  plan: z.string(),
  params: z.record(z.string(), z.unknown()),
  session_id: SessionId,
  started: z.string().datetime(),
  ended: z.string().datetime(),
  exit_status: ExitStatus,
  reason: z.string(),
  volume_uids: z.array(Uid),
});
export type HistoryEntry = z.infer<typeof HistoryEntry>;

export const HistoryRequest = z.object({
  limit: z.number().int().min(1).max(10_000).default(50),
  session_id: SessionId.optional(),
});
export const HistoryReply = z.object({ runs: z.array(HistoryEntry) });

/**
 * A page of one run's documents as GENTLY_RUNS holds them, for clients that
 * may not use JetStream themselves (the copilot): they subscribe to
 * `gently.run.<run>.doc.*` first, then page through this, and drop repeats.
 */
export const DocumentsRequest = z.object({
  run_uid: Uid,
  /** stream sequence of the last document already received (0: from the run's start) */
  after_seq: z.number().int().min(0).default(0),
  /** documents per page */
  limit: z.number().int().min(1).max(1000).default(200),
});
export const StoredRunDocument = z.object({
  /** position in GENTLY_RUNS: the next page's after_seq */
  seq: z.number().int().min(1),
  kind: z.string(),
  doc: z.record(z.string(), z.unknown()),
});
export const DocumentsReply = z.object({
  documents: z.array(StoredRunDocument),
  /** whether the stream held more of this run's documents past this page when it was read */
  more: z.boolean(),
});
export type DocumentsReply = z.infer<typeof DocumentsReply>;

/** details of a limit_violation refusal of a plan; `total` is present when there were more than are listed */
export const PlanViolations = z.object({ violations: z.array(LimitViolation), total: z.number().int().min(0).optional() });

export const plan = {
  submit: endpoint(
    "submit",
    subjects.plan.submit,
    SubmitRequest,
    SubmitReply,
    "validate a plan against the instrument's limits and queue it; returns its run uid at once",
  ),
  tools: endpoint("tools", subjects.plan.tools, z.object({}), z.object({ tools: z.array(ToolDefinition) }), "every plan as an LLM tool definition"),
  pause: endpoint("pause", subjects.plan.pause, RunTarget, ControlReply, "pause the current run at its next step boundary"),
  resume: endpoint("resume", subjects.plan.resume, RunTarget, ControlReply, "resume a paused run"),
  abort: endpoint("abort", subjects.plan.abort, AbortRequest, ControlReply, "stop the sequence now, lasers off, run ends as aborted; a queued run is removed"),
  stop: endpoint("stop", subjects.plan.stop, RunTarget, ControlReply, "finish the current step, then end the run successfully"),
  queue: endpoint("queue", subjects.plan.queue, z.object({}), QueueReply, "the run in progress and the queued runs in order"),
  queueMove: endpoint("queue-move", subjects.plan.queueMove, QueueMoveRequest, QueueReply, "move a queued run to a position (1 = next)"),
  queueRemove: endpoint("queue-remove", subjects.plan.queueRemove, QueueRemoveRequest, QueueReply, "remove a queued run"),
  history: endpoint("history", subjects.plan.history, HistoryRequest, HistoryReply, "finished runs, newest first (kept across restarts)"),
  status: endpoint("status", subjects.plan.status, z.object({}), RunnerStatus, "what the plan runner is doing"),
  documents: endpoint("documents", subjects.plan.documents, DocumentsRequest, DocumentsReply, "a page of one run's stored documents, oldest first"),
} as const;
