import type { PlanDefinition } from "./definition";
import { lastData } from "./definition";

/** move_stage: one XY move; the result is where the stage ended up. */
export const moveStage: PlanDefinition<"move_stage"> = {
  name: "move_stage",
  readOnly: false,
  expand: (p) => [{ kind: "move", request: { axis: "xy", x_um: p.x_um, y_um: p.y_um }, where: "stage move" }],
  summarize: (_p, records) => lastData(records),
};

/** get_position: reads hw.state. */
export const getPosition: PlanDefinition<"get_position"> = {
  name: "get_position",
  readOnly: true,
  expand: () => [{ kind: "read", what: "position", where: "position" }],
  summarize: (_p, records) => lastData(records),
};
