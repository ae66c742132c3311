import { describe, expect, it } from "vitest";
import { COPILOT_TOOL_NAMES, copilotTools, GentlyError, inCallersTerms, isPlanName, planCallOf, PLANS } from "./index";

describe("the existing copilot's tools", () => {
  it("each maps onto an allow-listed plan whose own schema accepts the translated parameters", () => {
    const minimal: Record<string, Record<string, unknown>> = {
      move: { x: 1200, y: -5 },
      calibrate: { piezo_positions: [40, 60] },
      set_illumination: { state: "Open" },
      detect: { image_uid: "0123456789abcdefghijk" },
    };
    for (const name of COPILOT_TOOL_NAMES) {
      const call = planCallOf(name, minimal[name] ?? {});
      expect(isPlanName(call.plan), name).toBe(true);
      const parsed = PLANS[call.plan as keyof typeof PLANS].params.safeParse(call.params);
      expect(parsed.success, `${name}: ${parsed.error?.message}`).toBe(true);
    }
  });

  it("keeps the copilot's defaults and names: acquire is 50 slices at the door's exposure, move is x/y in µm", () => {
    expect(planCallOf("acquire", {}, { exposure_ms: 7 }).params).toMatchObject({
      num_slices: 50,
      exposure_ms: 7,
      galvo_amplitude_deg: 0.5,
      galvo_center_deg: 0,
      piezo_amplitude_um: 25,
      piezo_center_um: 50,
    });
    expect(planCallOf("acquire", { exposure_ms: 3 }, { exposure_ms: 7 }).params.exposure_ms).toBe(3);
    expect(planCallOf("move", { x: 1, y: 2 })).toMatchObject({ plan: "move_stage", params: { x_um: 1, y_um: 2 } });
    expect(planCallOf("snap", {}).params).toMatchObject({ piezo_um: 50, galvo_deg: 0, exposure_ms: 10 });
    expect(planCallOf("detect_image", { use_led: false }).params).toMatchObject({ led: "Closed" });
    expect(planCallOf("set_illumination", { state: "Closed", laser_config: "ALL OFF" }).params).toEqual({ led: "Closed", laser_config: "ALL OFF" });
  });

  it("takes any other name as a plan name, unchanged", () => {
    expect(planCallOf("acquire_volume", { num_slices: 3 })).toEqual({ plan: "acquire_volume", params: { num_slices: 3 }, fields: {} });
    expect(planCallOf("gently.hw.move", { axis: "xy" }).plan).toBe("gently.hw.move");
  });

  it("takes the session the copilot passes among the parameters as the run's", () => {
    expect(planCallOf("acquire", { num_slices: 3, session_id: "embryo-7" })).toMatchObject({ plan: "acquire_volume", session_id: "embryo-7" });
    expect(planCallOf("acquire_volume", { num_slices: 3, session_id: "embryo-7" })).toEqual({ plan: "acquire_volume", params: { num_slices: 3 }, fields: {}, session_id: "embryo-7" });
    expect(() => planCallOf("acquire", { session_id: "../etc" })).toThrow(/session_id/);
  });

  it("refuses malformed parameters naming the copilot's field", () => {
    const err = (() => {
      try {
        planCallOf("move", { x: "left", y: 0 });
      } catch (e) {
        return e as GentlyError;
      }
    })();
    expect(err?.field).toBe("x");
    expect(() => planCallOf("acquire", { num_slices: 0 })).toThrow(/num_slices/);
    expect(() => planCallOf("move", [1, 2])).toThrow(/params: must be an object/);
    expect(() => planCallOf("set_illumination", {})).toThrow(/give state/);
  });

  it("names a plan's refusal by the copilot's field", () => {
    const call = planCallOf("acquire", { piezo_center: 9_000 });
    const renamed = inCallersTerms(new GentlyError("limit_violation", "piezo out of range", "params.piezo_center_um"), call);
    expect(renamed.field).toBe("piezo_center");
    expect(renamed.code).toBe("limit_violation");
  });

  it("lists the tools in Anthropic's format with JSON Schema from the same schemas", () => {
    const tools = copilotTools();
    expect(tools.map((t) => t.name)).toEqual(["move", "get_position", "acquire", "snap", "detect_image", "calibrate", "set_illumination", "get_illumination", "detect", "status"]);
    const acquire = tools.find((t) => t.name === "acquire")!;
    expect(acquire.input_schema).toMatchObject({ type: "object", properties: { num_slices: { default: 50 } }, additionalProperties: false });
  });
});
