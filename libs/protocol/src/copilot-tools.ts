import { z } from "zod";
import { finite, LaserPreset, LedPreset, SessionId } from "./common";
import { GentlyError } from "./errors";
import type { PlanName } from "./plan";
import { Uid } from "./uid";

/**
 * The tool names and parameters the existing Python copilot knows (its
 * `GET /api/microscope`), each mapped onto an allow-listed plan. Only the
 * shape is checked here; the plan's own schema and the instrument's limits
 * check the values when the plan is submitted. `fields` names, for each plan
 * parameter, the copilot's parameter it came from, so a refusal names the
 * field the copilot sent.
 */
interface CopilotTool<S extends z.ZodType> {
  params: S;
  description: string;
  toPlan(params: z.output<S>, defaults: CopilotDefaults): { plan: PlanName; params: Record<string, unknown> };
  fields: Record<string, string>;
}

/** What the door fills in where the copilot leaves a parameter out. */
export interface CopilotDefaults {
  /** the camera exposure set with the HTTP API's /api/camera/exposure (10 ms until set) */
  exposure_ms: number;
}

export const DEFAULT_COPILOT_EXPOSURE_MS = 10;

const exposure = z
  .number()
  .positive()
  .max(10_000)
  .optional()
  .describe("exposure in milliseconds, >0-10000; default: the camera exposure set with /api/camera/exposure (10 ms until set)");

function tool<S extends z.ZodType>(t: CopilotTool<S>): CopilotTool<S> {
  return t;
}

export const COPILOT_TOOLS = {
  move: tool({
    params: z.object({ x: finite().describe("target X in micrometres"), y: finite().describe("target Y in micrometres") }).strict(),
    description: "Move the XY stage to (x, y) in micrometres. Checked against the stage limits before anything moves.",
    toPlan: (p) => ({ plan: "move_stage", params: { x_um: p.x, y_um: p.y } }),
    fields: { x_um: "x", y_um: "y" },
  }),
  get_position: tool({
    params: z.object({}).strict(),
    description: "Read the stage, piezo and galvo positions.",
    toPlan: () => ({ plan: "get_position", params: {} }),
    fields: {},
  }),
  acquire: tool({
    params: z
      .object({
        num_slices: z.number().int().min(1).max(10_000).default(50).describe("slices in the volume, 1-10000"),
        exposure_ms: exposure,
        galvo_amplitude: z.number().min(0).max(90).default(0.5).describe("half-range of the galvo sweep in degrees"),
        galvo_center: finite().default(0).describe("centre of the galvo sweep in degrees"),
        piezo_amplitude: z.number().min(0).max(10_000).default(25).describe("half-range of the piezo sweep in micrometres"),
        piezo_center: finite().default(50).describe("centre of the piezo sweep in micrometres"),
        laser_config: LaserPreset.optional().describe("laser preset during the sweep (default 488 and 561); lasers are off after"),
      })
      .strict(),
    description:
      "Acquire one light-sheet volume into an OME-TIFF. Returns {uid, path, shape, dtype, session_id} of the file, never pixels.",
    toPlan: (p, d) => ({
      plan: "acquire_volume",
      params: {
        num_slices: p.num_slices,
        exposure_ms: p.exposure_ms ?? d.exposure_ms,
        galvo_amplitude_deg: p.galvo_amplitude,
        galvo_center_deg: p.galvo_center,
        piezo_amplitude_um: p.piezo_amplitude,
        piezo_center_um: p.piezo_center,
        ...(p.laser_config ? { laser_config: p.laser_config } : {}),
      },
    }),
    fields: {
      galvo_amplitude_deg: "galvo_amplitude",
      galvo_center_deg: "galvo_center",
      piezo_amplitude_um: "piezo_amplitude",
      piezo_center_um: "piezo_center",
    },
  }),
  snap: tool({
    params: z
      .object({
        piezo_position: finite().default(50).describe("piezo position in micrometres"),
        galvo_position: finite().default(0).describe("galvo angle in degrees"),
        exposure_ms: exposure,
      })
      .strict(),
    description: "Snap one light-sheet frame at a piezo position and galvo angle. Returns the image's uid and path.",
    toPlan: (p, d) => ({
      plan: "snap_lightsheet",
      params: { piezo_um: p.piezo_position, galvo_deg: p.galvo_position, exposure_ms: p.exposure_ms ?? d.exposure_ms },
    }),
    fields: { piezo_um: "piezo_position", galvo_deg: "galvo_position" },
  }),
  detect_image: tool({
    params: z
      .object({
        use_led: z.boolean().default(true).describe("switch the LED on for the snap (brightfield)"),
        exposure_ms: exposure,
      })
      .strict(),
    description: "Snap one frame with the bottom camera, for embryo detection. Returns the image's uid and path; pass the uid to detect.",
    toPlan: (p, d) => ({ plan: "snap_bottom", params: { led: p.use_led ? "Open" : "Closed", exposure_ms: p.exposure_ms ?? d.exposure_ms } }),
    fields: { led: "use_led" },
  }),
  calibrate: tool({
    params: z
      .object({
        piezo_positions: z.array(finite()).describe("piezo positions in micrometres to calibrate at, 2-50"),
        galvo_positions: z.array(finite()).optional().describe("galvo angles of each focus sweep in degrees, 3-401 (default -1 to 1 in 0.05 steps)"),
      })
      .strict(),
    description: "Calibrate galvo against piezo: a focus sweep at each piezo position, then a linear fit galvo = slope * piezo + offset.",
    toPlan: (p) => ({
      plan: "calibrate_piezo_galvo",
      params: { piezo_positions_um: p.piezo_positions, ...(p.galvo_positions ? { galvo_positions_deg: p.galvo_positions } : {}) },
    }),
    fields: { piezo_positions_um: "piezo_positions", galvo_positions_deg: "galvo_positions" },
  }),
  set_illumination: tool({
    params: z
      .object({
        state: LedPreset.optional().describe("LED state, Open or Closed"),
        led: LedPreset.optional().describe("the same as state (the plan's name for it)"),
        laser_config: LaserPreset.optional().describe("laser preset to switch to"),
      })
      .strict()
      .refine((p) => p.state !== undefined || p.led !== undefined || p.laser_config !== undefined, "give state, laser_config, or both")
      .meta({ minProperties: 1 }),
    description: "Switch the LED (state: Open or Closed) and/or the laser preset.",
    toPlan: (p) => ({
      plan: "set_illumination",
      params: { ...(p.state ?? p.led ? { led: p.state ?? p.led } : {}), ...(p.laser_config ? { laser_config: p.laser_config } : {}) },
    }),
    fields: { led: "state" },
  }),
  get_illumination: tool({
    params: z.object({}).strict(),
    description: "Read the LED state and the laser preset.",
    toPlan: () => ({ plan: "get_illumination", params: {} }),
    fields: {},
  }),
  detect: tool({
    params: z.object({ image_uid: Uid.describe("uid of a bottom-camera image, as detect_image returns it") }).strict(),
    description: "Detect embryos in a bottom-camera image. Returns one record per embryo with its stage position.",
    toPlan: (p) => ({ plan: "detect_embryos", params: { image_uid: p.image_uid } }),
    fields: {},
  }),
  status: tool({
    params: z.object({}).strict(),
    description: "The microscope's state (positions, illumination, cameras, limits) and the plan runner's.",
    toPlan: () => ({ plan: "status", params: {} }),
    fields: {},
  }),
} as const;

export type CopilotToolName = keyof typeof COPILOT_TOOLS;
export const COPILOT_TOOL_NAMES = Object.keys(COPILOT_TOOLS) as CopilotToolName[];

export function isCopilotToolName(name: string): name is CopilotToolName {
  return Object.prototype.hasOwnProperty.call(COPILOT_TOOLS, name);
}

/** The copilot's tools in Anthropic's tool format, their JSON Schema generated from the schemas above. */
export function copilotTools(): { name: string; description: string; input_schema: Record<string, unknown> }[] {
  return COPILOT_TOOL_NAMES.map((name) => ({
    name,
    description: COPILOT_TOOLS[name].description,
    input_schema: z.toJSONSchema(COPILOT_TOOLS[name].params, { io: "input" }) as Record<string, unknown>,
  }));
}

/** A tool call as the plan it runs; `fields` maps the plan's parameter names back to the caller's. */
export interface PlanCall {
  plan: string;
  params: Record<string, unknown>;
  fields: Record<string, string>;
  /** the session the copilot passed along with the parameters, if it did */
  session_id?: string;
}

/**
 * A call by the copilot's tool name becomes its plan; any other name is
 * taken as a plan name as it is (the plan runner refuses one not on the
 * allow-list, naming the allowed ones). A `session_id` among the parameters
 * names the run's session. A malformed body is refused naming the copilot's
 * field.
 */
export function planCallOf(name: string, params: unknown = {}, defaults: CopilotDefaults = { exposure_ms: DEFAULT_COPILOT_EXPOSURE_MS }): PlanCall {
  if (typeof params !== "object" || params === null || Array.isArray(params)) throw new GentlyError("invalid_request", "params: must be an object", "params");
  // the copilot passes its session among the parameters; it is the run's, not the plan's
  const { session_id: rawSession, ...body } = params as Record<string, unknown>;
  const session = rawSession === undefined ? undefined : SessionId.safeParse(rawSession);
  if (session && !session.success) throw GentlyError.fromZod(session.error, "session_id", rawSession);
  const session_id = session?.data === undefined ? {} : { session_id: session.data };
  if (!isCopilotToolName(name)) return { plan: name, params: body, fields: {}, ...session_id };
  const t: CopilotTool<z.ZodType> = COPILOT_TOOLS[name];
  const parsed = t.params.safeParse(body);
  if (!parsed.success) throw GentlyError.fromZod(parsed.error, "", body);
  return { ...t.toPlan(parsed.data, defaults), fields: t.fields, ...session_id };
}

/** The error with its field (and each violation's) named as the caller named it. */
export function inCallersTerms(err: GentlyError, call: PlanCall): GentlyError {
  const rename = (field: string | undefined) => {
    if (field === undefined) return undefined;
    const bare = field.startsWith("params.") ? field.slice("params.".length) : field;
    const head = bare.split(".")[0];
    return call.fields[head] ? call.fields[head] + bare.slice(head.length) : field;
  };
  return new GentlyError(err.code, err.message, rename(err.field), err.details);
}
