import { loadNativeLibrary } from "@gently/native";

/**
 * Where the simulator placed its embryos (gcsim_truth_json, native/sim/gently_sim.h)
 * for a sim config file: the answer key the detection tests check against.
 * Opens its own core on libgently_sim.so; the sample depends only on the
 * config (seed, pinned embryos), so it matches what the hardware service's
 * core renders from the same file.
 */

export interface SimEmbryo {
  x_um: number;
  y_um: number;
  z_um: number;
  /** semi-axes of the ellipsoid */
  a_um: number;
  b_um: number;
  c_um: number;
  angle_deg: number;
}

export interface SimTruth {
  seed: number;
  embryos: SimEmbryo[];
  cameras: { name: string; pixel_size_um: number; sensor_width: number; sensor_height: number }[];
}

export function simGroundTruth(configFile: string | null): SimTruth {
  const lib = loadNativeLibrary("gently_sim");
  // Plain pointers: koffi type names are process-global and other bindings may declare gc_core.
  const open = lib.func("void *gc_open(const char *config, _Out_ char *err, size_t cap)");
  const close = lib.func("void gc_close(void *core)");
  const truth = lib.func("int gcsim_truth_json(void *core, _Out_ char *out, size_t cap)");
  const err = Buffer.alloc(512);
  const core = open(configFile, err, err.length);
  if (!core) throw new Error(`gc_open(${configFile}): ${err.toString("utf8", 0, Math.max(0, err.indexOf(0)))}`);
  try {
    const out = Buffer.alloc(1 << 20);
    const rc = truth(core, out, out.length) as number;
    if (rc < 0) throw new Error(`gcsim_truth_json failed with ${rc}`);
    return JSON.parse(out.toString("utf8", 0, out.indexOf(0))) as SimTruth;
  } finally {
    close(core);
  }
}
