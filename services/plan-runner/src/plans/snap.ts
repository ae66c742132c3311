import type { PlanDefinition, StepRecord } from "./definition";
import { LASERS_OFF } from "./teardowns";

function imageRef(records: StepRecord[], session_id: string): Record<string, unknown> {
  const snap = records.find((r) => r.step.kind === "snap");
  if (!snap) return {};
  const { image_uid, path, shape, dtype } = snap.data;
  return { uid: image_uid, path, shape, dtype, session_id };
}

/** snap_bottom: one brightfield frame of the bottom camera with the LED as asked. */
export const snapBottom: PlanDefinition<"snap_bottom"> = {
  name: "snap_bottom",
  readOnly: false,
  expand: (p) => [{ kind: "snap", camera: "Bottom PCO", exposure_ms: p.exposure_ms, led: p.led, where: "bottom snap" }],
  summarize: (_p, records, ctx) => imageRef(records, ctx.session_id),
};

/** snap_lightsheet: piezo and galvo to the asked positions, then one frame with the laser on. */
export const snapLightsheet: PlanDefinition<"snap_lightsheet"> = {
  name: "snap_lightsheet",
  readOnly: false,
  teardown: LASERS_OFF,
  expand: (p) => [
    { kind: "move", request: { axis: "piezo", piezo_um: p.piezo_um }, where: "piezo" },
    { kind: "move", request: { axis: "galvo", galvo_deg: p.galvo_deg }, where: "galvo" },
    { kind: "snap", camera: p.camera, exposure_ms: p.exposure_ms, laser_config: p.laser_config, where: "light-sheet snap" },
  ],
  summarize: (_p, records, ctx) => imageRef(records, ctx.session_id),
};
