import { z } from "zod";
import { finite } from "./common";
import { DEVICES } from "./devices";
import { GentlyError } from "./errors";

/**
 * Travel and parameter limits of the microscope and the one pure checker
 * that both the hardware service (before every move) and the plan runner
 * (over a whole plan, before any motion) use, so the two can never disagree.
 */

/** Inclusive range of one axis; `resolution` is the step targets are rounded to before checking (piezo: 0.001 µm). */
export const Range = z
  .object({ min: finite(), max: finite(), resolution: finite().positive().optional() })
  .refine((r) => r.min <= r.max, { message: "min must not exceed max" });
export type Range = z.infer<typeof Range>;

/** Laser lines whose power can be set, in nm. */
export const LASER_LINES_NM = ["405", "488", "561", "637"] as const;
export const LaserLine = z.enum(LASER_LINES_NM);
export type LaserLine = z.infer<typeof LaserLine>;

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
  /** power cap of each laser line, percent of its maximum */
  laser_power_pct: z.record(LaserLine, Range),
});
export type Limits = z.infer<typeof Limits>;
export type LimitField = Exclude<keyof Limits, "laser_power_pct">;

/**
 * Travel of an ASI diSPIM as shipped: what the hardware service enforces
 * unless a site narrows or widens it with GENTLY_LIMITS.
 */
export const DEFAULT_LIMITS: Limits = {
  x_um: { min: 500, max: 2500 },
  y_um: { min: -1000, max: 1000 },
  z_um: { min: 50, max: 250 },
  f_um: { min: 20, max: 25000 },
  piezo_um: { min: -200, max: 200, resolution: 0.001 },
  galvo_deg: { min: -5, max: 5 },
  exposure_ms: { min: 0.1, max: 10000 },
  num_slices: { min: 1, max: 2000 },
  // Sample safety for live embryos: 488 nm bleaches and harms most, so it is capped lowest.
  laser_power_pct: {
    "405": { min: 0, max: 10 },
    "488": { min: 0, max: 6 },
    "561": { min: 0, max: 10 },
    "637": { min: 0, max: 10 },
  },
};

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

/** Device label of each limited parameter (the diSPIM's Micro-Manager labels). */
export const LIMIT_DEVICES: Record<LimitField, string> = {
  x_um: DEVICES.xyStage,
  y_um: DEVICES.xyStage,
  z_um: DEVICES.zStage,
  f_um: DEVICES.fDrive,
  piezo_um: DEVICES.piezo,
  galvo_deg: DEVICES.scanner,
  exposure_ms: "camera",
  num_slices: "sweep",
};

/** Targets to check; every field is optional. `camera` names the device for exposure_ms. */
export type LimitTargets = Partial<Record<LimitField, number>> & { camera?: string };

const LIMIT_FIELDS = Object.keys(LIMIT_DEVICES) as LimitField[];

/**
 * Rounds a target to its range's resolution (the value the device will really
 * take). A target inside the range stays inside: it rounds inwards rather than
 * past a limit that is not on the step grid.
 */
export function roundToResolution(range: Range, value: number): number {
  if (!range.resolution) return value;
  let steps = Math.round(value / range.resolution);
  if (value <= range.max && steps * range.resolution > range.max) steps = Math.floor(range.max / range.resolution);
  if (value >= range.min && steps * range.resolution < range.min) steps = Math.ceil(range.min / range.resolution);
  // Through a decimal string so 0.001 steps give 12.345, not 12.345000000000001; three digits
  // more than the step's magnitude keep steps such as 0.015 exact.
  const decimals = Math.min(20, Math.max(0, Math.ceil(-Math.log10(range.resolution)) + 3));
  return Number((steps * range.resolution).toFixed(decimals));
}

/**
 * Every limit the targets break; empty when all are inside. Non-finite
 * values are always violations. Pure: no I/O, safe in a plan's dry run.
 */
export function checkTargets(limits: Limits, targets: LimitTargets, where?: string): LimitViolation[] {
  const violations: LimitViolation[] = [];
  for (const field of LIMIT_FIELDS) {
    const raw = targets[field];
    if (raw === undefined) continue;
    const range = limits[field];
    const value = Number.isFinite(raw) ? roundToResolution(range, raw) : raw;
    const integerOnly = field === "num_slices" && !Number.isInteger(value);
    if (Number.isFinite(value) && value >= range.min && value <= range.max && !integerOnly) continue;
    const device = field === "exposure_ms" && targets.camera ? targets.camera : LIMIT_DEVICES[field];
    const violation: LimitViolation = { device, field, value, min: range.min, max: range.max };
    if (where !== undefined) violation.where = where;
    violations.push(violation);
  }
  return violations;
}

/** Every cap the laser powers break (percent per line); a line without a cap is refused too. */
export function checkLaserPowers(limits: Limits, powers_pct: Partial<Record<LaserLine, number>>): LimitViolation[] {
  const violations: LimitViolation[] = [];
  for (const [line, value] of Object.entries(powers_pct) as [LaserLine, number][]) {
    const cap = limits.laser_power_pct[line] ?? { min: 0, max: 0 };
    if (Number.isFinite(value) && value >= cap.min && value <= cap.max) continue;
    violations.push({ device: `laser ${line} nm`, field: "power_pct", value, min: cap.min, max: cap.max });
  }
  return violations;
}

/** Positions a light-sheet sweep visits: its first and last slice bound all others. */
export function sweepTargets(
  sweep: { piezo_start_um: number; piezo_step_um: number; galvo_start_deg: number; galvo_step_deg: number },
  numSlices: number,
): { first: LimitTargets; last: LimitTargets } {
  const n = Math.max(0, numSlices - 1);
  return {
    first: { piezo_um: sweep.piezo_start_um, galvo_deg: sweep.galvo_start_deg },
    last: { piezo_um: sweep.piezo_start_um + n * sweep.piezo_step_um, galvo_deg: sweep.galvo_start_deg + n * sweep.galvo_step_deg },
  };
}

/** One line naming device, field, value and the limit it breaks. */
export function describeViolation(v: LimitViolation): string {
  const side = v.value < v.min ? `below the minimum ${v.min}` : v.value > v.max ? `above the maximum ${v.max}` : `not allowed`;
  const where = v.where ? ` (${v.where})` : "";
  return `${v.device} ${v.field} ${v.value} is ${side} (limits ${v.min}..${v.max})${where}`;
}

/** The refusal for a request with violations: message lists them all, details carry them. */
export function limitViolationError(violations: LimitViolation[]): GentlyError {
  const first = violations[0];
  const more = violations.length > 1 ? `; and ${violations.length - 1} more: ${violations.slice(1).map(describeViolation).join("; ")}` : "";
  return new GentlyError(
    "limit_violation",
    `refused, nothing moved: ${first ? describeViolation(first) : "limit violation"}${more}`,
    first?.field,
    { violations },
  );
}
