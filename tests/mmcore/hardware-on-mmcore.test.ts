import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { call, connectBus, createLogger, EXIT_FATAL_CONFIG } from "@gently/bus";
import { hw, newUid } from "@gently/protocol";
import { nativeDirectory } from "@gently/native";
import { REPO_ROOT } from "@gently/supervisor";
import { spawnService, startTestNats, tempStorage, type ServiceProcess, type TestNats } from "@gently/testing";
import { TestReader } from "../../services/hardware/test/test-reader";

// Runs where Micro-Manager is: `make -C native mmcore MMCORE_DIR=...` built the shim and
// GENTLY_MM_ADAPTER_PATH finds DemoCamera (see native/mmcore/README.md). Skipped elsewhere.
const SHIM = path.join(nativeDirectory(), "libgently_mmcore.so");
const ADAPTERS = process.env.GENTLY_MM_ADAPTER_PATH;
const CONFIG = path.join(REPO_ROOT, "native/mmcore/gently-demo.cfg");

describe.skipIf(!ADAPTERS || !existsSync(SHIM))("hardware service on the MMCore shim (DemoCamera, real process, real NATS)", () => {
  let nats: TestNats;
  let nc: NatsConnection;
  let reader: TestReader;
  const storage = tempStorage("gently-mmcore-");
  const running: ServiceProcess[] = [];

  /** The hardware service on the shim with a config, roles from a file only where some differ from the diSPIM's. */
  async function startHardware(config: string, roles: object = {}): Promise<ServiceProcess> {
    const rolesFile = path.join(storage.dir, `roles-${newUid()}.json`);
    writeFileSync(rolesFile, JSON.stringify(roles));
    const hardware = spawnService("hardware", {
      GENTLY_NATS_URL: nats.url,
      GENTLY_STORAGE: storage.dir,
      GENTLY_RING_PATH: `/dev/shm/gently-test-ring-${newUid()}`,
      GENTLY_RING_SLOTS: "4",
      GENTLY_CORE_LIBRARY: SHIM,
      GENTLY_CONFIG: config,
      ...(Object.keys(roles).length > 0 ? { GENTLY_ROLES: rolesFile } : {}),
      GENTLY_MM_ADAPTER_PATH: ADAPTERS,
    });
    running.push(hardware);
    await hardware.waitForLog((l) => l.includes('"msg":"started"'), 45_000);
    return hardware;
  }

  /** DemoCamera's stages start at 0, outside the diSPIM's limits, where no acquisition is allowed: move inside. */
  async function moveInsideLimits(): Promise<void> {
    const refused = await call(nc, hw.snap, { acq_id: newUid(), volume_uid: newUid(), session_id: "mmcore", camera: "HamCam1" }).then(() => null, (e: { code: string; message: string }) => e);
    expect(refused?.code).toBe("limit_violation");
    expect(refused?.message).toContain("current position");
    await call(nc, hw.move, { axis: "xy", x_um: 1500, y_um: 0 });
    await call(nc, hw.move, { axis: "z", z_um: 150 });
    await call(nc, hw.move, { axis: "fdrive", f_um: 100 });
  }

  beforeAll(async () => {
    nats = await startTestNats();
    nc = await connectBus({ servers: nats.url, name: "mmcore-test", logger: createLogger("mmcore-test", "silent") });
    reader = new TestReader(nc);
    await reader.start();
  });

  afterEach(async () => {
    // one hardware service at a time holds the microscope
    for (const p of running.splice(0)) await p.stop();
  });

  afterAll(async () => {
    await reader?.stop();
    await nc?.close();
    await nats?.stop();
    storage.remove();
  });

  it("reports the MMCore and Device API versions and the stepped sweep mode; sensor-pixel ROIs, binned pixel sizes and frames; a two-camera volume with the shipped config; lasers off after", async () => {
    const hardware = await startHardware(CONFIG);
    const state = await call(nc, hw.state, {});
    expect(state.core_info).toEqual({ version: "MMCore version 12.5.0", device_api: 75, sweep_mode: "stepped" });
    const ready = hardware.lines.find((l) => l.includes('"msg":"microscope ready"'))!;
    expect(JSON.parse(ready)).toMatchObject({ version: "MMCore version 12.5.0", device_api: 75, sweep_mode: "stepped" });
    // The shipped config works without GENTLY_ROLES: DemoCamera has no laser power device, and the log says so.
    const notes = hardware.lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { level: number; msg: string });
    expect(notes).toContainEqual(
      expect.objectContaining({ level: 40, msg: expect.stringContaining(`no laser power control: the diSPIM's laser power device "LaserCombiner" is not in core config ${CONFIG}`) }),
    );
    expect(state.laser_power_pct).toEqual({});
    expect(state.cameras.HamCam1).toMatchObject({ pixel_size_um: 0.325, roi: { width: 512, height: 512 } });
    expect(state.cameras.HamCam2).toMatchObject({ pixel_size_um: 0.325 });
    await moveInsideLimits();

    await call(nc, hw.setCamera, { camera: "HamCam1", roi: { x: 64, y: 32, width: 256, height: 128 } });
    expect((await call(nc, hw.state, {})).cameras.HamCam1?.roi).toEqual({ x: 64, y: 32, width: 256, height: 128 });
    const off = await call(nc, hw.setCamera, { camera: "HamCam1", roi: { x: 1, y: 0, width: 256, height: 128 } }).then(() => null, (e: { code: string; field?: string }) => e);
    expect(off).toMatchObject({ code: "invalid_request", field: "roi" });
    const req = { acq_id: newUid(), volume_uid: newUid(), session_id: "mmcore", cameras: ["HamCam1" as const], num_slices: 5, exposure_ms: 5, laser_config: "488 only" as const };
    expect(await call(nc, hw.startSequence, req)).toMatchObject({ frames_total: 5 });
    expect(await reader.waitEnd(req.acq_id, 20_000)).toMatchObject({ status: "complete", frames: 5, dropped: 0 });
    const frames = reader.frames.get(req.acq_id)!;
    expect(frames.map((f) => f.descriptor.seq)).toEqual([0, 1, 2, 3, 4]);
    for (const f of frames) {
      expect(f.descriptor).toMatchObject({ width: 128, height: 64 });
      expect(f.data.length).toBe(f.descriptor.bytes);
    }

    await call(nc, hw.setCamera, { camera: "HamCam2", roi: { x: 64, y: 32, width: 256, height: 128 } });
    const dual = { ...req, acq_id: newUid(), volume_uid: newUid(), cameras: ["HamCam1" as const, "HamCam2" as const], num_slices: 3, sweep: { piezo_start_um: -2, piezo_step_um: 2, galvo_start_deg: 0, galvo_step_deg: 0.1 } };
    expect(await call(nc, hw.startSequence, dual)).toMatchObject({ frames_total: 6 });
    expect(await reader.waitEnd(dual.acq_id, 20_000)).toMatchObject({ status: "complete", frames: 6, dropped: 0 });
    const dualFrames = reader.frames.get(dual.acq_id)!;
    // the cameras of a slice may arrive in either order; each slice has both, at its piezo position
    const bySlice = dualFrames.map((f) => `${f.descriptor.z_index} ${f.descriptor.piezo_um} ${f.descriptor.camera}`).sort();
    expect(bySlice).toEqual(["0 -2 HamCam1", "0 -2 HamCam2", "1 0 HamCam1", "1 0 HamCam2", "2 2 HamCam1", "2 2 HamCam2"]);
    expect((await call(nc, hw.state, {})).laser).toBe("ALL OFF");
  });

  it("steps a volume on DemoCamera: each slice exposed at the piezo read back, its planes brighter as the beads blur out of focus", async () => {
    // DemoCamera's beads blur with the position of the stage labelled "Z": that stage plays the piezo.
    const beads = path.join(storage.dir, "beads.cfg");
    writeFileSync(
      beads,
      readFileSync(CONFIG, "utf8").replaceAll("PiezoStage:P:34", "Z").replace("Property,HamCam1,Binning,2", "Property,HamCam1,Binning,2\nProperty,HamCam1,Mode,Fluorescent Beads"),
    );
    await startHardware(beads, { piezo: "Z" });
    await moveInsideLimits();
    const req = {
      acq_id: newUid(),
      volume_uid: newUid(),
      session_id: "mmcore",
      cameras: ["HamCam1" as const],
      num_slices: 5,
      exposure_ms: 5,
      laser_config: "488 only" as const,
      sweep: { piezo_start_um: 0, piezo_step_um: 10, galvo_start_deg: 0, galvo_step_deg: 0 },
    };
    await call(nc, hw.startSequence, req);
    expect((await call(nc, hw.state, {})).acquisition?.sweep_mode).toBe("stepped");
    expect(await reader.waitEnd(req.acq_id, 30_000)).toMatchObject({ status: "complete", frames: 5, dropped: 0 });
    const frames = reader.frames.get(req.acq_id)!;
    expect(frames.map((f) => f.descriptor.piezo_um)).toEqual([0, 10, 20, 30, 40]);
    const means = frames.map((f) => f.data.reduce((s, v) => s + v, 0) / f.data.length);
    // sharp beads at 0 µm, ever wider (and so more light on the frame) further away
    for (let i = 1; i < means.length; i++) expect(means[i]!, `slice ${i} vs ${i - 1}: ${means.join(", ")}`).toBeGreaterThan(means[i - 1]! * 1.02);
    expect((await call(nc, hw.state, {})).laser).toBe("ALL OFF");
  });

  it("exits for good (code 78) when the config's adapters are not found, naming the folders searched and GENTLY_MM_ADAPTER_PATH", async () => {
    const empty = path.join(storage.dir, "no-adapters");
    mkdirSync(empty, { recursive: true });
    const hardware = spawnService("hardware", {
      GENTLY_NATS_URL: nats.url,
      GENTLY_STORAGE: storage.dir,
      GENTLY_RING_PATH: `/dev/shm/gently-test-ring-${newUid()}`,
      GENTLY_CORE_LIBRARY: SHIM,
      GENTLY_CONFIG: CONFIG,
      GENTLY_MM_ADAPTER_PATH: empty,
    });
    const { code } = await hardware.exited;
    expect(code).toBe(EXIT_FATAL_CONFIG);
    const fatal = hardware.lines.find((l) => l.includes('"level":60'))!;
    expect(JSON.parse(fatal).msg).toContain(`device adapters, libmmgr_dal_<Name>.so.0, are searched in GENTLY_MM_ADAPTER_PATH=${empty}`);
    expect(JSON.parse(fatal).msg).toContain(CONFIG);
  });
});
