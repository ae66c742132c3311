import { z } from "zod";
import { FILE_UID_PATTERN } from "@gently/storage";
import { SinkError } from "./errors";


const finite = z.number().refine(Number.isFinite, "must be finite");
const positive = finite.refine((v) => v > 0, "must be > 0");
const count = z.number().int().positive();

export const ChannelSchema = z.object({
  /** Camera that recorded this channel, e.g. "camA". */
  camera: z.string().min(1),
  /** Laser line or name, e.g. "488nm". */
  laser: z.string().min(1),
  excitation_nm: positive.optional(),
  emission_nm: positive.optional(),
  /** Per-channel exposure; falls back to the volume's exposure_ms. */
  exposure_ms: finite.nonnegative().optional(),
});
export type Channel = z.infer<typeof ChannelSchema>;

export const LaserLineSchema = z.object({
  wavelength_nm: positive,
  power_mw: finite.nonnegative().optional(),
  power_pct: finite.min(0).max(100).optional(),
  enabled: z.boolean().optional(),
});

export const SweepSchema = z.object({
  piezo_start_um: finite,
  piezo_end_um: finite,
  galvo_start_v: finite,
  galvo_end_v: finite,
});

export const StagePositionSchema = z.object({ x_um: finite, y_um: finite, z_um: finite });

/**
 * The light sheet's sweep as the microscope ran it: slice z at piezo
 * start + z × step (the plane's PositionZ) and galvo start + z × step.
 * `mode` says who moved the sheet: the controller ("hardware") or the
 * acquisition slice by slice ("stepped").
 */
export const SheetSweepSchema = z.object({
  piezo_start_um: finite,
  piezo_step_um: finite,
  galvo_start_deg: finite,
  galvo_step_deg: finite,
  mode: z.enum(["hardware", "stepped"]),
});

/** The sheet's position when one plane was exposed, and when (the core's clock, µs). */
export interface PlanePosition {
  piezo_um: number;
  galvo_deg: number;
  timestamp_us?: number;
}

/** Piezo position of slice z, rounded to the piezo's 1 nm as the device takes it. */
export function slicePiezoUm(sweep: z.infer<typeof SheetSweepSchema>, z: number): number {
  return Math.round((sweep.piezo_start_um + z * sweep.piezo_step_um) * 1000) / 1000;
}

export const VolumeMetaSchema = z
  .object({
    uid: z.string().regex(FILE_UID_PATTERN, "uid must match [A-Za-z0-9_-]{1,128}"),
    session_id: z.string().min(1),
    run_uid: z.string().min(1),
    plan_name: z.string().min(1),
    dtype: z.enum(["uint16", "uint8"]).default("uint16"),
    /**
     * Order in which planes are appended and stored (OME DimensionOrder). XYZCT: a whole z-stack per
     * channel. XYCZT: channels interleaved per z, which is what two simultaneous cameras produce.
     */
    dimension_order: z.enum(["XYZCT", "XYCZT"]).default("XYZCT"),
    size_x: count,
    size_y: count,
    size_z: count,
    size_c: count.default(1),
    size_t: count.default(1),
    /** Sample-plane pixel size (camera pixel / magnification), used for PhysicalSizeX and PhysicalSizeY. */
    pixel_size_um: positive,
    z_step_um: positive,
    exposure_ms: finite.nonnegative(),
    channels: z.array(ChannelSchema).min(1),
    laser_config: z.array(LaserLineSchema).default([]),
    stage_position_um: StagePositionSchema,
    sweep: SweepSchema.optional(),
    sheet_sweep: SheetSweepSchema.optional(),
    /**
     * Where the per-plane positions given to appendPlane come from: "measured" (read back from the
     * devices for each slice) or "planned" (the sweep's positions as the controller was told to run
     * them; nothing measured them). Absent: no per-plane positions, planes follow sheet_sweep.
     */
    plane_positions: z.enum(["measured", "planned"]).optional(),
    /** ISO-8601 start of acquisition; OME AcquisitionDate. */
    acquired_at: z.iso.datetime({ offset: true }),
    /** Free-form string facts a caller wants preserved (operator note, sample id, ...). */
    extra: z.record(z.string(), z.string()).default({}),
  })
  .superRefine((m, ctx) => {
    if (m.channels.length !== m.size_c) {
      ctx.addIssue({ code: "custom", path: ["channels"], message: `expected ${m.size_c} channels (size_c), got ${m.channels.length}` });
    }
  });

/** Metadata as the caller supplies it (defaults may be omitted). */
export type VolumeMetaInput = z.input<typeof VolumeMetaSchema>;
/** Metadata after validation and defaults. */
export type VolumeMeta = z.output<typeof VolumeMetaSchema>;
export type Dtype = VolumeMeta["dtype"];

export function parseVolumeMeta(input: unknown): VolumeMeta {
  const r = VolumeMetaSchema.safeParse(input);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw new SinkError("bad_meta", `invalid volume metadata: ${issues}`);
  }
  return r.data;
}

export function bytesPerSample(dtype: Dtype): number {
  return dtype === "uint16" ? 2 : 1;
}

export function planeCount(meta: VolumeMeta): number {
  return meta.size_z * meta.size_c * meta.size_t;
}

export function planeBytes(meta: VolumeMeta): number {
  return meta.size_x * meta.size_y * bytesPerSample(meta.dtype);
}

/** The (z, c, t) of the i-th appended plane under the volume's dimension order. */
export function planeCoords(meta: VolumeMeta, index: number): { z: number; c: number; t: number } {
  const t = Math.floor(index / (meta.size_z * meta.size_c));
  const inT = index % (meta.size_z * meta.size_c);
  if (meta.dimension_order === "XYZCT") return { z: inT % meta.size_z, c: Math.floor(inT / meta.size_z), t };
  return { c: inT % meta.size_c, z: Math.floor(inT / meta.size_c), t };
}

/** Numpy-style shape of the stored volume with its axes, singleton T and C dropped (Z, Y, X always kept). */
export function volumeShape(meta: VolumeMeta): { shape: number[]; axes: string } {
  const inner: Array<[string, number]> =
    meta.dimension_order === "XYZCT"
      ? [["C", meta.size_c], ["Z", meta.size_z]]
      : [["Z", meta.size_z], ["C", meta.size_c]];
  const dims: Array<[string, number]> = [["T", meta.size_t], ...inner, ["Y", meta.size_y], ["X", meta.size_x]];
  const kept = dims.filter(([axis, n]) => n > 1 || axis === "Z" || axis === "Y" || axis === "X");
  return { shape: kept.map(([, n]) => n), axes: kept.map(([a]) => a).join("") };
}

// --- MapAnnotation encoding -------------------------------------------------------------------------
// One key per top-level field so viewers (Fiji/Bio-Formats, OMERO) show readable pairs. Strings are
// stored verbatim; everything else as JSON, so the round trip is exact.

const STRING_FIELDS = new Set(["uid", "session_id", "run_uid", "plan_name", "dtype", "dimension_order", "acquired_at"]);

/** MapAnnotation namespace that marks gently's volume metadata. */
export const GENTLY_ANNOTATION_NS = "gently/volume-meta/v1";

export function metaToAnnotation(meta: VolumeMeta): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(meta)) {
    if (v === undefined) continue;
    pairs.push([k, STRING_FIELDS.has(k) ? String(v) : JSON.stringify(v)]);
  }
  return pairs;
}

/** Rebuilds validated metadata from the key/value pairs; throws SinkError("bad_file") if incomplete. */
export function metaFromAnnotation(pairs: ReadonlyMap<string, string>): VolumeMeta {
  const obj: Record<string, unknown> = {};
  for (const [k, v] of pairs) {
    if (STRING_FIELDS.has(k)) obj[k] = v;
    else {
      try {
        obj[k] = JSON.parse(v);
      } catch {
        throw new SinkError("bad_file", `gently annotation key "${k}" does not hold JSON: ${v.slice(0, 80)}`);
      }
    }
  }
  const r = VolumeMetaSchema.safeParse(obj);
  if (!r.success) {
    throw new SinkError("bad_file", `gently annotation does not form valid volume metadata: ${r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  }
  return r.data;
}
