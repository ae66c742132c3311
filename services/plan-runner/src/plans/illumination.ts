import { LASER_LINES_NM, type LaserLine } from "@gently/protocol";
import type { Step } from "../steps";
import type { PlanDefinition } from "./definition";
import { lastData } from "./definition";

/** set_illumination: what is set stays set (no lasers-off teardown: that is the point of the plan). */
export const setIllumination: PlanDefinition<"set_illumination"> = {
  name: "set_illumination",
  readOnly: false,
  expand: (p) => {
    const steps: Step[] = [];
    if (p.laser_config !== undefined) steps.push({ kind: "preset", request: { group: "Laser", preset: p.laser_config }, where: "laser" });
    if (p.led !== undefined) steps.push({ kind: "preset", request: { group: "LED", preset: p.led }, where: "LED" });
    return steps;
  },
  summarize: (_p, records) => lastData(records),
};

/** set_laser_power: the given lines' powers, checked against their caps before anything changes; all lines read back. */
export const setLaserPower: PlanDefinition<"set_laser_power"> = {
  name: "set_laser_power",
  readOnly: false,
  expand: (p) => {
    const powers_pct: Partial<Record<LaserLine, number>> = {};
    for (const line of LASER_LINES_NM) {
      const pct = p[`power_${line}_pct`];
      if (pct !== undefined) powers_pct[line] = pct;
    }
    return [{ kind: "laser_power", powers_pct, where: "laser power" }];
  },
  summarize: (_p, records) => lastData(records),
};

export const getIllumination: PlanDefinition<"get_illumination"> = {
  name: "get_illumination",
  readOnly: true,
  expand: () => [{ kind: "read", what: "illumination", where: "illumination" }],
  summarize: (_p, records) => lastData(records),
};
