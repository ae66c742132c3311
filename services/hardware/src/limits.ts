import { readFileSync } from "node:fs";
import { z } from "zod";
import {
  checkTargets,
  DEFAULT_LIMITS,
  LaserLine,
  limitViolationError,
  Limits,
  Range,
  sweepTargets,
  type LimitTargets,
  type LimitViolation,
  type MoveRequest,
  type SequenceRequest,
} from "@gently/protocol";

/** A limits file names only the axes (and laser lines) it changes; the rest keep their defaults. */
const LimitsFile = z
  .object({
    ...Object.fromEntries(Object.keys(DEFAULT_LIMITS).map((k) => [k, Range.optional()])),
    laser_power_pct: z.partialRecord(LaserLine, Range).optional(),
  })
  .strict();

/**
 * Limits from the JSON file named by GENTLY_LIMITS (e.g.
 * `{"x_um": {"min": 800, "max": 2200}}`) over the defaults. A file that does
 * not parse is a startup error: running with limits nobody intended is worse
 * than not running.
 */
export function loadLimits(file: string | undefined): Limits {
  if (!file) return DEFAULT_LIMITS;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new Error(`GENTLY_LIMITS ${file}: ${(err as Error).message}`);
  }
  const parsed = LimitsFile.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`GENTLY_LIMITS ${file}: ${issue?.path.join(".") || "(top level)"}: ${issue?.message}`);
  }
  const laser_power_pct = { ...DEFAULT_LIMITS.laser_power_pct, ...parsed.data.laser_power_pct };
  return Limits.parse({ ...DEFAULT_LIMITS, ...parsed.data, laser_power_pct });
}

/** The targets a move request sets, rounded the way the devices round them. */
export function moveTargets(move: MoveRequest): LimitTargets {
  switch (move.axis) {
    case "xy":
      return { x_um: move.x_um, y_um: move.y_um };
    case "z":
      return { z_um: move.z_um };
    case "fdrive":
      return { f_um: move.f_um };
    case "piezo":
      return { piezo_um: move.piezo_um };
    case "galvo":
      return { galvo_deg: move.galvo_deg };
  }
}

/** Every limit a move would break. */
export function checkMove(limits: Limits, move: MoveRequest): LimitViolation[] {
  return checkTargets(limits, moveTargets(move));
}

/** Every limit a sequence would break: exposure, slice count and both ends of its sweep. */
export function checkSequence(limits: Limits, req: Pick<SequenceRequest, "cameras" | "exposure_ms" | "num_slices" | "sweep">): LimitViolation[] {
  const violations = [
    ...checkTargets(limits, { exposure_ms: req.exposure_ms, camera: req.cameras.join(",") }),
    ...checkTargets(limits, { num_slices: req.num_slices }),
  ];
  if (req.sweep) {
    const { first, last } = sweepTargets(req.sweep, req.num_slices);
    violations.push(...checkTargets(limits, first, "first slice of the sweep"));
    violations.push(...checkTargets(limits, last, `last slice (${req.num_slices - 1}) of the sweep`));
  }
  return violations;
}

/** Throws the limit_violation refusal when there is anything to refuse. */
export function refuseViolations(violations: LimitViolation[]): void {
  if (violations.length > 0) throw limitViolationError(violations);
}
