import { checkLaserPowers, checkTargets, GentlyError, limitViolationError, type Limits, type LimitTargets, type LimitViolation } from "@gently/protocol";
import type { Step, VolumeSpec } from "./steps";
import { slicePosition } from "./sweep";

interface PlacedTargets {
  targets: LimitTargets;
  where: string;
}

/** Every target one step sets other than a volume's slices (those are checked per volume, see below). */
function stepTargets(step: Step): PlacedTargets[] {
  switch (step.kind) {
    case "move": {
      const r = step.request;
      const targets: LimitTargets =
        r.axis === "xy"
          ? { x_um: r.x_um, y_um: r.y_um }
          : r.axis === "z"
            ? { z_um: r.z_um }
            : r.axis === "fdrive"
              ? { f_um: r.f_um }
              : r.axis === "piezo"
                ? { piezo_um: r.piezo_um }
                : { galvo_deg: r.galvo_deg };
      return [{ targets, where: step.where }];
    }
    case "acquire": {
      const v = step.volume;
      return [{ targets: { exposure_ms: v.exposure_ms, camera: v.cameras.join(","), num_slices: v.num_slices }, where: step.where }];
    }
    case "snap":
    case "live":
      return [{ targets: { exposure_ms: step.exposure_ms, camera: step.camera }, where: step.where }];
    default:
      return [];
  }
}

/** Violations of every slice of a volume, `where` naming the slice (1-based). */
function sliceViolations(limits: Limits, v: VolumeSpec): LimitViolation[] {
  const out: LimitViolation[] = [];
  for (let i = 0; i < v.num_slices; i++) out.push(...checkTargets(limits, slicePosition(v.sweep, i), `slice ${i + 1}`));
  return out;
}

/** Violations listed in a refusal; past this only the count grows (a refusal has to fit in one NATS reply). */
export const MAX_LISTED_VIOLATIONS = 1000;

export interface PlanCheck {
  /** in plan order, at most MAX_LISTED_VIOLATIONS */
  violations: LimitViolation[];
  /** all of them */
  total: number;
}

/**
 * Every limit any step of a plan would break, in plan order; none when the
 * whole plan is inside its limits. Each slice of each volume is checked; a
 * volume repeated (a timelapse) is checked once and its violations named
 * for every timepoint.
 */
export function checkSteps(limits: Limits, steps: readonly Step[]): PlanCheck {
  const violations: LimitViolation[] = [];
  let total = 0;
  const add = (v: LimitViolation) => {
    total++;
    if (violations.length < MAX_LISTED_VIOLATIONS) violations.push(v);
  };
  const byVolume = new Map<VolumeSpec, LimitViolation[]>();
  for (const step of steps) {
    for (const { targets, where } of stepTargets(step)) checkTargets(limits, targets, where).forEach(add);
    if (step.kind === "laser_power") checkLaserPowers(limits, step.powers_pct).forEach((v) => add({ ...v, where: step.where }));
    if (step.kind !== "acquire") continue;
    let slices = byVolume.get(step.volume);
    if (!slices) byVolume.set(step.volume, (slices = sliceViolations(limits, step.volume)));
    if (violations.length >= MAX_LISTED_VIOLATIONS) total += slices.length;
    else for (const v of slices) add({ ...v, where: `${step.where}, ${v.where}` });
  }
  return { violations, total };
}

/** The refusal of a plan: every violation (past MAX_LISTED_VIOLATIONS, the first ones and the total). */
export function planRefusal(check: PlanCheck): GentlyError {
  const e = limitViolationError(check.violations);
  if (check.total === check.violations.length) return e;
  return new GentlyError(e.code, `${e.message} (${check.total} violations in all; the first ${check.violations.length} are listed)`, e.field, {
    violations: check.violations,
    total: check.total,
  });
}
