import {
  GentlyError,
  isPlanName,
  PLAN_NAMES,
  PLANS,
  type ParsedPlanParams,
  type PlanName,
} from "@gently/protocol";
import type { PlanDefinition } from "./definition";
import { detectEmbryos } from "./detect";
import { calibratePiezoGalvo, focusSweep } from "./focus";
import { getIllumination, setIllumination, setLaserPower } from "./illumination";
import { liveView } from "./live";
import { getPosition, moveStage } from "./motion";
import { snapBottom, snapLightsheet } from "./snap";
import { status } from "./status";
import { acquireVolume, timelapseVolume } from "./volume";

export type { PlanDefinition, StepRecord, SummaryContext } from "./definition";

/** Every allow-listed plan's implementation; the compiler insists on one per plan in the protocol. */
export const PLAN_DEFINITIONS: { [P in PlanName]: PlanDefinition<P> } = {
  move_stage: moveStage,
  get_position: getPosition,
  acquire_volume: acquireVolume,
  snap_bottom: snapBottom,
  snap_lightsheet: snapLightsheet,
  live_view: liveView,
  timelapse_volume: timelapseVolume,
  focus_sweep: focusSweep,
  calibrate_piezo_galvo: calibratePiezoGalvo,
  set_illumination: setIllumination,
  get_illumination: getIllumination,
  set_laser_power: setLaserPower,
  detect_embryos: detectEmbryos,
  status,
};

/** A plan picked from the allow-list with its parameters parsed (defaults filled in). */
export interface ParsedPlan {
  name: PlanName;
  definition: PlanDefinition;
  params: ParsedPlanParams<PlanName>;
}

/**
 * The allow-list gate: an unknown name is refused naming the allowed ones; a
 * bad parameter is refused naming it (as params.<field>).
 */
export function parsePlan(name: string, params: unknown): ParsedPlan {
  if (!isPlanName(name)) {
    throw new GentlyError("unknown_plan", `unknown plan '${name}'; allowed plans: ${PLAN_NAMES.join(", ")}`, "plan", {
      allowed: PLAN_NAMES,
    });
  }
  const parsed = PLANS[name].params.safeParse(params ?? {});
  if (!parsed.success) throw GentlyError.fromZod(parsed.error, "params", params ?? {});
  return { name, definition: PLAN_DEFINITIONS[name] as unknown as PlanDefinition, params: parsed.data as ParsedPlanParams<PlanName> };
}
