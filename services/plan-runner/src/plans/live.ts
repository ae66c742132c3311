import type { Step } from "../steps";
import type { PlanDefinition } from "./definition";
import { lastData } from "./definition";
import { LASERS_OFF } from "./teardowns";

/** live_view: piezo and galvo where asked (else where they are), then the camera streams until stopped or duration_s. */
export const liveView: PlanDefinition<"live_view"> = {
  name: "live_view",
  readOnly: false,
  teardown: LASERS_OFF,
  expand: (p) => {
    const steps: Step[] = [];
    if (p.piezo_um !== undefined) steps.push({ kind: "move", request: { axis: "piezo", piezo_um: p.piezo_um }, where: "piezo" });
    if (p.galvo_deg !== undefined) steps.push({ kind: "move", request: { axis: "galvo", galvo_deg: p.galvo_deg }, where: "galvo" });
    steps.push({
      kind: "live",
      camera: p.camera,
      exposure_ms: p.exposure_ms,
      laser_config: p.laser_config,
      led: p.led,
      duration_s: p.duration_s,
      where: `live view of ${p.camera}`,
    });
    return steps;
  },
  summarize: (_p, records) => lastData(records),
};
