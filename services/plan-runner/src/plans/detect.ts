import type { PlanDefinition } from "./definition";
import { lastData } from "./definition";

/** detect_embryos: asks the SAM service; moves nothing, so it runs at once beside a queued run. */
export const detectEmbryos: PlanDefinition<"detect_embryos"> = {
  name: "detect_embryos",
  readOnly: true,
  expand: (p) => [{ kind: "detect", image_uid: p.image_uid, where: "detection" }],
  summarize: (_p, records) => lastData(records),
};
