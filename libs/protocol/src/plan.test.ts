import { describe, expect, it } from "vitest";
import Ajv2020 from "ajv/dist/2020";
import { PLAN_NAMES, PLANS, planTools, type PlanName } from "./plan";

/** Parameters an LLM might send: some valid, some wrong in one way each. */
const SAMPLES: Record<PlanName, unknown[]> = {
  move_stage: [{ x_um: 1200, y_um: 0 }, { x_um: 1200 }, { x_um: "1200", y_um: 0 }, { x_um: 1, y_um: 2, z_um: 3 }],
  get_position: [{}, { verbose: true }],
  acquire_volume: [
    {},
    { num_slices: 20, exposure_ms: 2.5, cameras: ["HamCam1", "HamCam2"] },
    { num_slices: 0 },
    { num_slices: 10.5 },
    { exposure_ms: 0 },
    { piezo_amplitude_um: -1 },
    { laser_config: "488" },
    { cameras: [] },
    { cameras: ["HamCam1", "HamCam1"] },
    { cameras: ["Bottom PCO"] },
    { slices: 10 },
  ],
  snap_bottom: [{}, { exposure_ms: 20, led: "Closed" }, { led: "Half" }, { exposure_ms: -1 }],
  snap_lightsheet: [{ piezo_um: 50, galvo_deg: 0.5 }, { piezo_um: 50 }, { piezo_um: 50, galvo_deg: 0.5, camera: "Bottom PCO" }],
  live_view: [{}, { camera: "Bottom PCO", led: "Open", laser_config: "ALL OFF", exposure_ms: 5 }, { duration_s: 0 }, { duration_s: 4000 }, { camera: "HamCam3" }],
  timelapse_volume: [
    { num_timepoints: 3, interval_s: 60 },
    { num_timepoints: 3, interval_s: 60, num_slices: 20, piezo_center_um: 228 },
    { num_timepoints: 0, interval_s: 60 },
    { interval_s: 60 },
    { num_timepoints: 3, interval_s: -1 },
  ],
  focus_sweep: [
    { galvo_positions_deg: [0.4, 0.5, 0.6] },
    { galvo_positions_deg: [0.4, 0.5, 0.6], piezo_um: 50, exposure_ms: 10 },
    { galvo_positions_deg: [0.4] },
    { galvo_positions_deg: ["a", "b"] },
    {},
  ],
  calibrate_piezo_galvo: [
    { piezo_positions_um: [20, 50, 80] },
    { piezo_positions_um: [20, 50], galvo_positions_deg: [0, 0.5, 1] },
    { piezo_positions_um: [20] },
    { piezo_positions_um: [20, 50], galvo_positions_deg: [0, 1] },
  ],
  set_illumination: [{ laser_config: "488 only" }, { led: "Open" }, { laser_config: "ALL OFF", led: "Closed" }, {}, { laser: "ALL OFF" }],
  get_illumination: [{}, { x: 1 }],
  set_laser_power: [{ power_488_pct: 5 }, { power_405_pct: 1, power_637_pct: 2.5 }, {}, { power_488_pct: 101 }, { power_488_pct: "5" }, { power_532_pct: 1 }],
  detect_embryos: [{ image_uid: "0123456789ABCDEFGHIJk" }, { image_uid: "short" }, {}],
  status: [{}, { all: true }],
};

describe("LLM tool definitions", () => {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  const tools = planTools();

  it("list every allow-listed plan with a description and an object schema that ajv compiles", () => {
    expect(tools.map((t) => t.name)).toEqual(PLAN_NAMES);
    for (const tool of tools) {
      expect(tool.description.length).toBeGreaterThan(20);
      expect(tool.input_schema.type).toBe("object");
      expect(() => ajv.compile(tool.input_schema)).not.toThrow();
    }
  });

  it("describe every parameter with its unit or its choices", () => {
    for (const tool of tools) {
      const props = (tool.input_schema.properties ?? {}) as Record<string, { description?: string }>;
      for (const [name, prop] of Object.entries(props)) {
        expect(prop.description, `${tool.name}.${name}`).toBeTruthy();
        if (/_(um|deg|ms|s)$/.test(name)) expect(prop.description, `${tool.name}.${name}`).toMatch(/micrometres|degrees|milliseconds|seconds/);
      }
    }
  });

  it("accept and refuse exactly what the plans' own validation accepts and refuses", () => {
    let valid = 0;
    let invalid = 0;
    for (const tool of tools) {
      const validate = ajv.compile(tool.input_schema);
      for (const sample of SAMPLES[tool.name as PlanName]) {
        const byZod = PLANS[tool.name as PlanName].params.safeParse(sample).success;
        const byAjv = validate(sample);
        expect(byAjv, `${tool.name} ${JSON.stringify(sample)}: ajv ${byAjv}, zod ${byZod}`).toBe(byZod);
        if (byZod) valid++;
        else invalid++;
      }
    }
    // the samples exercise both sides
    expect(valid).toBeGreaterThanOrEqual(15);
    expect(invalid).toBeGreaterThanOrEqual(25);
  });

  it("declare the instrument's defaults for an acquisition", () => {
    const acquire = tools.find((t) => t.name === "acquire_volume")!.input_schema.properties as Record<string, { default?: unknown }>;
    expect(Object.fromEntries(Object.entries(acquire).map(([k, v]) => [k, v.default]))).toEqual({
      num_slices: 100,
      exposure_ms: 5,
      piezo_center_um: 50,
      piezo_amplitude_um: 25,
      galvo_center_deg: 0,
      galvo_amplitude_deg: 0.5,
      laser_config: "488 and 561",
      cameras: ["HamCam1"],
    });
  });
});
