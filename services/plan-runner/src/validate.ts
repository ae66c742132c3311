import { checkTargets, type Limits, type LimitTargets, type LimitViolation } from "@gently/protocol";
import type { Step } from "./steps";
import { slicePosition } from "./sweep";

interface PlacedTargets {
  targets: LimitTargets;
  where: string;
}

/** Every target one step sets: each slice of a volume separately, so a violation names its slice. */
export function targetsOf(step: Step): PlacedTargets[] {
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
      const placed: PlacedTargets[] = [
        { targets: { exposure_ms: v.exposure_ms, camera: v.cameras.join(","), num_slices: v.num_slices }, where: step.where },
      ];
      for (let i = 0; i < v.num_slices; i++) {
        placed.push({ targets: slicePosition(v.sweep, i), where: `${step.where}, slice ${i + 1}` });
      }
      return placed;
    }
    case "snap":
      return [{ targets: { exposure_ms: step.exposure_ms, camera: step.camera }, where: step.where }];
    default:
      return [];
  }
}

/** Every limit any step of a plan would break, in plan order; empty when the whole plan is inside its limits. */
export function checkSteps(limits: Limits, steps: readonly Step[]): LimitViolation[] {
  const violations: LimitViolation[] = [];
  for (const step of steps) {
    for (const { targets, where } of targetsOf(step)) violations.push(...checkTargets(limits, targets, where));
  }
  return violations;
}
