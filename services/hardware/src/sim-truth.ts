import koffi from "koffi";
import { GentlyError } from "@gently/protocol";
import type { Core, NativeFunction } from "./core-binding";

/**
 * The simulator's ground truth (native/sim/gently_sim.h), bound to the same
 * library as a Core opened on libgently_sim.so: renders a frame for an
 * explicit state and noise index, byte-identical to what gc_snap /
 * gc_pop_next produced. Tests use it to check frames independently of the
 * acquisition path; it is never used to produce frames.
 */

export interface SimState {
  x_um: number;
  y_um: number;
  z_um: number;
  f_um: number;
  piezo_um: number;
  galvo_a_deg: number;
  galvo_b_deg: number;
  exposure_ms: number;
  roi_x: number;
  roi_y: number;
  roi_width: number;
  roi_height: number;
  binning: number;
  led_open: number;
  laser_preset: string;
}

// koffi type names are process-global: declared once, at module load.
koffi.struct("gcsim_state", {
  x_um: "double",
  y_um: "double",
  z_um: "double",
  f_um: "double",
  piezo_um: "double",
  galvo_a_deg: "double",
  galvo_b_deg: "double",
  exposure_ms: "double",
  roi_x: "int32_t",
  roi_y: "int32_t",
  roi_width: "int32_t",
  roi_height: "int32_t",
  binning: "int32_t",
  led_open: "int32_t",
  laser_preset: koffi.array("char", 32, "String"),
});

/** Part of gcsim_truth_json that TypeScript reads. */
export interface SimFacts {
  galvo_slope_deg_per_um: number;
  galvo_offset_deg: number;
  /** one sensor row's readout: a frame of R rows is read in R × this */
  line_time_ms: number;
  embryos: { x_um: number; y_um: number; z_um: number; a_um: number; b_um: number; c_um: number }[];
}

export class SimTruth {
  private readonly render_: NativeFunction;
  private readonly getState: NativeFunction;
  private readonly lastError: NativeFunction;
  private readonly truthJson: NativeFunction;

  constructor(private readonly core: Core) {
    const lib = koffi.load(core.libraryPath);
    this.render_ = lib.func("int gcsim_render(gc_core *core, const char *camera, const gcsim_state *state, uint64_t noise_index, _Out_ void *buf, size_t cap)");
    this.getState = lib.func("int gcsim_get_state(gc_core *core, const char *camera, _Out_ gcsim_state *state)");
    this.lastError = lib.func("const char *gc_last_error(gc_core *core)");
    this.truthJson = lib.func("int gcsim_truth_json(gc_core *core, _Out_ char *out, size_t cap)");
  }

  facts(): SimFacts {
    const out = Buffer.alloc(64 * 1024);
    this.check(this.truthJson(this.core.pointer, out, out.length), "ground truth");
    return JSON.parse(out.subarray(0, out.indexOf(0)).toString("utf8")) as SimFacts;
  }

  /** Frames per second a sequence of `rows`-row frames at this exposure runs at (next exposure overlapping the readout). */
  cameraLimitFps(exposureMs: number, rows: number): number {
    return 1000 / Math.max(exposureMs, rows * this.facts().line_time_ms);
  }

  state(camera: string): SimState {
    const out = {} as SimState;
    this.check(this.getState(this.core.pointer, camera, out), `state of ${camera}`);
    return out;
  }

  render(camera: string, state: SimState, noiseIndex: number, into: Buffer): void {
    this.check(this.render_(this.core.pointer, camera, state, noiseIndex, into, into.length), `render ${camera}`);
  }

  private check(rc: number, what: string): void {
    if (rc < 0) throw new GentlyError("device_error", `${what}: ${this.lastError(this.core.pointer) as string}`);
  }
}
