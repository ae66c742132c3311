import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NatsConnection } from "@nats-io/transport-node";
import { Kvm, type KV } from "@nats-io/kv";
import { call, connectBus, createLogger, EXIT_FATAL_CONFIG } from "@gently/bus";
import { buckets, GentlyError, hw, newUid, type EndpointContract, type ReplyOf, type RequestOf } from "@gently/protocol";
import { nativeLibraryPath } from "@gently/native";
import { spawnService, startTestNats, tempStorage, waitFor, type ServiceProcess, type TestNats } from "@gently/testing";
import { Core } from "./core-binding";
import { SimTruth } from "./sim-truth";
import { simStateOf } from "../test/sim-state";
import { TestReader } from "../test/test-reader";

const logger = createLogger("real-microscope-test", "silent");
const ROI = { x: 896, y: 960, width: 256, height: 128 };
const XY_MOVE_MS = 10_000;

/**
 * The hardware service on a core like a lab's that is not an ASI Tiger: the
 * simulator without hardware sequencing (sweeps are stepped slice by slice)
 * and with an XY stage that takes 10 s per move.
 */
describe("hardware service on a core without hardware sequencing and with slow moves (real process, real NATS)", () => {
  let nats: TestNats;
  let nc: NatsConnection;
  let hardware: ServiceProcess;
  let reader: TestReader;
  let kv: KV;
  let truthCore: Core;
  let truth: SimTruth;
  const storage = tempStorage("gently-hw-real-");
  const ringPath = `/dev/shm/gently-test-ring-${newUid()}`;

  const hwCall = <E extends EndpointContract>(contract: E, body: RequestOf<E>, timeoutMs?: number): Promise<ReplyOf<E>> =>
    call(nc, contract, body, timeoutMs === undefined ? {} : { timeoutMs });
  const state = () => hwCall(hw.state, {});
  const refusal = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e as GentlyError);

  beforeAll(async () => {
    nats = await startTestNats();
    const simConfig = path.join(storage.dir, "sim.json");
    writeFileSync(
      simConfig,
      // The piezo's own travel is narrower than the limits (±200 µm), as on a microscope whose limits file is too generous.
      JSON.stringify({ hardware_sweep: false, move_ms: { xy: XY_MOVE_MS }, cameras: { "Bottom PCO": { binning: 2 } }, travel_um: { piezo: { min: -100, max: 100 } } }),
    );
    hardware = spawnService("hardware", {
      GENTLY_NATS_URL: nats.url,
      GENTLY_STORAGE: storage.dir,
      GENTLY_CONFIG: simConfig,
      GENTLY_RING_PATH: ringPath,
      GENTLY_RING_SLOTS: "4",
    });
    await hardware.waitForLog((l) => l.includes('"msg":"started"'), 45_000);
    nc = await connectBus({ servers: nats.url, name: "real-microscope-test", logger });
    kv = await new Kvm(nc).open(buckets.leases);
    reader = new TestReader(nc);
    await reader.start();
    truthCore = Core.open(nativeLibraryPath("gently_sim"));
    truth = new SimTruth(truthCore);
  });

  afterAll(async () => {
    await reader?.stop();
    await hardware?.stop();
    truthCore?.close();
    await nc?.close();
    await nats?.stop();
    storage.remove();
  });

  it("reports the core's version and that its sweeps are stepped, in hw.state and the start log", async () => {
    const s = await state();
    expect(s.core_info).toEqual({ version: "gently-sim 1.1", device_api: null, sweep_mode: "stepped" });
    const ready = hardware.lines.find((l) => l.includes('"msg":"microscope ready"'))!;
    expect(JSON.parse(ready)).toMatchObject({ version: "gently-sim 1.1", device_api: null, sweep_mode: "stepped", roles: "diSPIM defaults" });
  });

  it("steps a two-camera sweep slice by slice: each frame carries the piezo and galvo read back for its slice, pixels byte-exact", async () => {
    for (const camera of ["HamCam1", "HamCam2"] as const) await hwCall(hw.setCamera, { camera, roi: ROI });
    const before = await state();
    // The service's core has exposed nothing before this sequence: its noise counter is at 0.
    const noiseBase = 0;
    const req = {
      acq_id: newUid(),
      volume_uid: newUid(),
      session_id: "hw-real",
      cameras: ["HamCam1", "HamCam2"] as RequestOf<typeof hw.startSequence>["cameras"],
      num_slices: 4,
      exposure_ms: 20,
      laser_config: "488 only" as const,
      sweep: { piezo_start_um: 44.0004, piezo_step_um: 2.5, galvo_start_deg: -0.12, galvo_step_deg: 0.05 },
    };
    await hwCall(hw.startSequence, req);
    const during = await state();
    expect(during.acquisition?.sweep_mode).toBe("stepped");
    const end = await reader.waitEnd(req.acq_id);
    expect(end).toMatchObject({ status: "complete", frames: 8, dropped: 0 });
    expect(reader.begins.find((b) => b.acq_id === req.acq_id)).toMatchObject({ sweep_mode: "stepped", sweep: req.sweep });
    const frames = reader.frames.get(req.acq_id)!;
    expect(frames.map((f) => f.descriptor.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const expected = Buffer.alloc(ROI.width * ROI.height * 2);
    for (const [k, { descriptor, data }] of frames.entries()) {
      const slice = Math.floor(k / 2);
      const camera = req.cameras[k % 2]!;
      expect(descriptor).toMatchObject({ camera, z_index: slice });
      // What the piezo took (1 nm steps) and the galvo reported, not the plan's arithmetic.
      expect(descriptor.piezo_um).toBe(Math.round((44.0004 + slice * 2.5) * 1000) / 1000);
      expect(descriptor.galvo_deg).toBeCloseTo(-0.12 + slice * 0.05, 12);
      // One short sequence per slice: frame i of camera j still has noise index N0 + i*ncam + j.
      truth.render(camera, simStateOf(before, camera, { exposure_ms: 20, laser: "488 only", piezo_um: descriptor.piezo_um, galvo_deg: descriptor.galvo_deg }), noiseBase + slice * 2 + (k % 2), expected);
      expect(data.equals(expected), `frame ${k} (${camera}, slice ${slice})`).toBe(true);
    }
    const after = await state();
    expect(after.laser).toBe("ALL OFF");
    expect(after.position.piezo_um).toBe(frames[7]!.descriptor.piezo_um);
  });

  it("answers state, keepalives and lease renewals throughout a 10 s XY move, and refuses a second request with conflict", async () => {
    const last = [...reader.ends.keys()].at(-1)!;
    const leaseBefore = (await kv.get("hardware"))!.revision;
    const t0 = Date.now();
    const moving = hwCall(hw.move, { axis: "xy", x_um: 1600, y_um: 20 }, XY_MOVE_MS + 10_000);
    const latencies: number[] = [];
    let conflicts = 0;
    await new Promise((r) => setTimeout(r, 300));
    while (Date.now() - t0 < XY_MOVE_MS - 1_000) {
      const asked = Date.now();
      const s = await state();
      latencies.push(Date.now() - asked);
      expect(s.position.x_um).toBe(1600);
      expect(await hwCall(hw.keepalive, { acq_id: last })).toMatchObject({ ok: true });
      const second = await refusal(hwCall(hw.move, { axis: "z", z_um: 120 }));
      expect(second?.code).toBe("conflict");
      expect(second?.message).toContain("move");
      conflicts++;
      await new Promise((r) => setTimeout(r, 500));
    }
    const snap = await refusal(hwCall(hw.snap, { acq_id: newUid(), volume_uid: newUid(), session_id: "hw-real", camera: "HamCam1" }));
    expect(snap?.code).toBe("conflict");
    const leaseDuring = (await kv.get("hardware"))!.revision;
    const moved = await moving;
    const tookMs = Date.now() - t0;
    expect(tookMs).toBeGreaterThanOrEqual(XY_MOVE_MS - 200);
    expect(moved.position).toMatchObject({ x_um: 1600, y_um: 20 });
    expect(conflicts).toBeGreaterThanOrEqual(8);
    expect(Math.max(...latencies)).toBeLessThan(1_000);
    // The lease is rewritten every 2 s: at least three renewals during the move.
    expect(leaseDuring - leaseBefore).toBeGreaterThanOrEqual(3);
    // And the z move refused meanwhile did not happen.
    expect((await state()).position.z_um).toBe(150);
  }, 40_000);

  it("sets laser power per line and reads it back; refuses a power above the line's cap and changes nothing", async () => {
    expect(await hwCall(hw.laserPower, { powers_pct: { "488": 5, "561": 8.5 } })).toEqual({
      powers_pct: { "405": 0, "488": 5, "561": 8.5, "637": 0 },
    });
    const err = await refusal(hwCall(hw.laserPower, { powers_pct: { "561": 2, "488": 7 } }));
    expect(err?.code).toBe("limit_violation");
    expect(err?.message).toContain("laser 488 nm power_pct 7 is above the maximum 6");
    expect((await state()).laser_power_pct).toEqual({ "405": 0, "488": 5, "561": 8.5, "637": 0 });
    const unknown = await refusal(hwCall(hw.laserPower, { powers_pct: {} }));
    expect(unknown?.code).toBe("invalid_request");
  });

  it("answers a target the device itself refuses (past its travel) as limit_violation naming the field, and nothing moved", async () => {
    await hwCall(hw.move, { axis: "piezo", piezo_um: 20 });
    const err = await refusal(hwCall(hw.move, { axis: "piezo", piezo_um: 150 }));
    expect(err?.code).toBe("limit_violation");
    expect(err?.field).toBe("piezo_um");
    expect(err?.message).toContain("150 um is outside its travel [-100, 100] um");
    expect((await state()).position.piezo_um).toBe(20);
    // A sweep that reaches past it fails the same way on the stepped path, before any frame.
    const req = { acq_id: newUid(), volume_uid: newUid(), session_id: "real", cameras: ["HamCam1" as const], num_slices: 3, exposure_ms: 5, laser_config: "488 only" as const, sweep: { piezo_start_um: 90, piezo_step_um: 10, galvo_start_deg: 0, galvo_step_deg: 0 } };
    await hwCall(hw.startSequence, req);
    const end = await reader.waitEnd(req.acq_id, 20_000);
    expect(end).toMatchObject({ status: "failed" });
    expect(end.reason).toContain("outside its travel");
    expect((await state()).laser).toBe("ALL OFF");
  });

  it("refuses an ROI off the binned grid as a request error naming the field, and takes one on it", async () => {
    const err = await refusal(hwCall(hw.setCamera, { camera: "Bottom PCO", roi: { x: 0, y: 0, width: 255, height: 128 } }));
    expect(err?.code).toBe("invalid_request");
    expect(err?.field).toBe("roi");
    expect(err?.message).toContain("not a whole number of 2x2 binned pixels");
    const s = await hwCall(hw.setCamera, { camera: "Bottom PCO", roi: { x: 2, y: 0, width: 256, height: 128 } });
    expect(s.cameras["Bottom PCO"]!.roi).toEqual({ x: 2, y: 0, width: 256, height: 128 });
  });
});

describe("hardware service refusing to start on a configuration that cannot work (real process)", () => {
  let nats: TestNats;
  const storage = tempStorage("gently-hw-roles-");

  beforeAll(async () => {
    nats = await startTestNats();
  });

  afterAll(async () => {
    await nats?.stop();
    storage.remove();
  });

  async function startWith(env: NodeJS.ProcessEnv): Promise<{ code: number | null; fatal: string }> {
    const proc = spawnService("hardware", {
      GENTLY_NATS_URL: nats.url,
      GENTLY_STORAGE: storage.dir,
      GENTLY_RING_PATH: `/dev/shm/gently-test-ring-${newUid()}`,
      ...env,
    });
    const { code } = await proc.exited;
    const fatal = proc.lines.map((l) => (l.startsWith("{") ? (JSON.parse(l) as { level: number; msg: string }) : null)).find((l) => l?.level === 60);
    return { code, fatal: fatal?.msg ?? "" };
  }

  function rolesFile(roles: object): string {
    const file = path.join(storage.dir, `roles-${newUid()}.json`);
    writeFileSync(file, JSON.stringify(roles));
    return file;
  }

  it("exits with the fatal-config code naming the role, the label and the files when a role's device is missing", async () => {
    const file = rolesFile({ scanner: "Scanner:AB:99" });
    const { code, fatal } = await startWith({ GENTLY_ROLES: file });
    expect(code).toBe(EXIT_FATAL_CONFIG);
    expect(fatal).toBe(`role scanner: no device "Scanner:AB:99" in the core's default configuration (roles from GENTLY_ROLES ${file})`);
  });

  it("names a device of the wrong kind and a missing preset", async () => {
    const wrongKind = await startWith({ GENTLY_ROLES: rolesFile({ piezo: "XYStage:XY:31" }) });
    expect(wrongKind.code).toBe(EXIT_FATAL_CONFIG);
    expect(wrongKind.fatal).toMatch(/^role piezo: device "XYStage:XY:31" is an XY stage, not a stage/);
    const noPreset = await startWith({ GENTLY_ROLES: rolesFile({ laser_off_preset: "Lasers off" }) });
    expect(noPreset.fatal).toMatch(/^role laser_off_preset: config group "Laser" lacks preset\(s\) "Lasers off"/);
    const badFile = await startWith({ GENTLY_ROLES: rolesFile({ scaner: "x" }) });
    expect(badFile.code).toBe(EXIT_FATAL_CONFIG);
    expect(badFile.fatal).toContain("scaner");
  });

  it("refuses acquisitions while the stage stands outside its limits, and lets it move back inside", async () => {
    const limits = path.join(storage.dir, "limits.json");
    // The sim's stage starts at x 1500 µm, left of this site's travel.
    writeFileSync(limits, JSON.stringify({ x_um: { min: 1600, max: 2500, resolution: 0.015 } }));
    const proc = spawnService("hardware", {
      GENTLY_NATS_URL: nats.url,
      GENTLY_STORAGE: storage.dir,
      GENTLY_RING_PATH: `/dev/shm/gently-test-ring-${newUid()}`,
      GENTLY_LIMITS: limits,
    });
    const nc = await connectBus({ servers: nats.url, name: "outside-limits-test", logger });
    try {
      await proc.waitForLog((l) => l.includes('"msg":"started"'), 45_000);
      const owner = { volume_uid: newUid(), session_id: "hw-real", acq_id: newUid() };
      const seq = await call(nc, hw.startSequence, { ...owner, cameras: ["HamCam1"], num_slices: 3, exposure_ms: 5, laser_config: "488 only" }).then(
        () => null,
        (e: GentlyError) => e,
      );
      expect(seq?.code).toBe("limit_violation");
      expect(seq?.message).toContain("XYStage:XY:31 x_um 1500 is below the minimum 1600");
      expect(seq?.message).toContain("current position, before sequence");
      const snap = await call(nc, hw.snap, { ...owner, acq_id: newUid(), camera: "HamCam1" }).then(() => null, (e: GentlyError) => e);
      expect(snap?.code).toBe("limit_violation");
      expect((await call(nc, hw.state, {})).laser).toBe("ALL OFF");
      // Rounded to the stage's 0.015 µm step, a target just inside the limit stays inside it
      // (the nearest step, 2500.005, would be past it).
      const moved = await call(nc, hw.move, { axis: "xy", x_um: 2499.999, y_um: 0 });
      expect(moved.position.x_um).toBeLessThanOrEqual(2500);
      expect(moved.position.x_um).toBeCloseTo(2499.99, 9);
    } finally {
      await nc.close();
      await proc.stop();
    }
  });

  it("exits with the fatal-config code when the core library does not load or the core refuses its config", async () => {
    const missing = await startWith({ GENTLY_CORE_LIBRARY: path.join(storage.dir, "libgently_nothing.so") });
    expect(missing.code).toBe(EXIT_FATAL_CONFIG);
    expect(missing.fatal).toMatch(/cannot load core library .*libgently_nothing\.so \(GENTLY_CORE_LIBRARY\)/);
    const badConfig = path.join(storage.dir, "bad-sim.json");
    writeFileSync(badConfig, JSON.stringify({ move_ms: { xyz: 1 } }));
    const refused = await startWith({ GENTLY_CONFIG: badConfig });
    expect(refused.code).toBe(EXIT_FATAL_CONFIG);
    expect(refused.fatal).toContain("move_ms.xyz");
  });
});
