import type { PlanDefinition } from "./definition";
import { lastData } from "./definition";

/** status: the microscope's state and the plan runner's, in one reading. */
export const status: PlanDefinition<"status"> = {
  name: "status",
  readOnly: true,
  expand: () => [{ kind: "read", what: "status", where: "status" }],
  summarize: (_p, records) => lastData(records),
};
