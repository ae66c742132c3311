import { call } from "@gently/bus";
import { hw } from "@gently/protocol";
import type { PlanTeardown } from "./definition";

/** Every laser off: the teardown of each plan that may light the sample. */
export const LASERS_OFF: PlanTeardown = {
  what: "lasers off",
  failure: "the lasers could not be confirmed off",
  run: async (deps) => {
    await call(deps.nc, hw.setPreset, { group: "Laser", preset: "ALL OFF" });
  },
};
