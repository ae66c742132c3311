import type { HwState, Limits } from "@gently/protocol";

/** The diSPIM's shipped travel limits, as the hardware service reports them in hw.state. */
export const TEST_LIMITS: Limits = {
  x_um: { min: 500, max: 2500 },
  y_um: { min: -1000, max: 1000 },
  z_um: { min: 50, max: 250 },
  f_um: { min: 20, max: 25000 },
  piezo_um: { min: -200, max: 200, resolution: 0.001 },
  galvo_deg: { min: -5, max: 5 },
  exposure_ms: { min: 0.1, max: 10000 },
  num_slices: { min: 1, max: 2000 },
};

/** A hw.state reading for dry-run tests of expansion and validation (pure functions, no I/O). */
export function testState(overrides: Partial<HwState["position"]> = {}): HwState {
  return {
    core: "libgently_sim.so",
    position: { x_um: 1500, y_um: 0, z_um: 150, f_um: 1000, piezo_um: 0, galvo_a_deg: 0, galvo_b_deg: 0, ...overrides },
    laser: "ALL OFF",
    led: "Closed",
    cameras: {},
    limits: TEST_LIMITS,
    acquisition: null,
    ring: { path: "/dev/shm/test", slots: 8, slot_bytes: 1, free: 8 },
    owner: { instance: "test", host: "localhost", pid: 1, since: new Date(0).toISOString() },
  };
}
