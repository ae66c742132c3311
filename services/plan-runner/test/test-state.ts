import { DEFAULT_LIMITS, type HwState } from "@gently/protocol";

/** A hw.state reading for dry-run tests of expansion and validation (pure functions, no I/O). */
export function testState(overrides: Partial<HwState["position"]> = {}): HwState {
  return {
    core: "libgently_sim.so",
    core_info: { version: "gently-sim 1.1", device_api: null, sweep_mode: "hardware" },
    laser_power_pct: {},
    position: { x_um: 1500, y_um: 0, z_um: 150, f_um: 1000, piezo_um: 0, galvo_a_deg: 0, galvo_b_deg: 0, ...overrides },
    laser: "ALL OFF",
    led: "Closed",
    cameras: {},
    limits: DEFAULT_LIMITS,
    acquisition: null,
    ring: { path: "/dev/shm/test", slots: 8, slot_bytes: 1, free: 8 },
    owner: { instance: "test", host: "localhost", pid: 1, since: new Date(0).toISOString() },
  };
}
