import { realpathSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NatsConnection } from "@nats-io/transport-node";
import { call, connectBus, createLogger } from "@gently/bus";
import { GentlyError, hw, newUid, type EndpointContract, type RequestOf, type ReplyOf } from "@gently/protocol";
import { nativeLibraryPath } from "@gently/native";
import { spawnService, startTestNats, tempStorage, waitFor, type ServiceProcess, type TestNats } from "@gently/testing";
import { Core } from "./core-binding";
import { SimTruth } from "./sim-truth";
import { simStateOf } from "../test/sim-state";
import { TestReader } from "../test/test-reader";

const logger = createLogger("hardware-test", "silent");
const SIM = nativeLibraryPath("gently_sim");
const ROI = { x: 896, y: 960, width: 256, height: 128 };
const RING_TIMEOUT_MS = 4_000;

describe("hardware service (real process, real NATS, real shared-memory ring)", () => {
  let nats: TestNats;
  let nc: NatsConnection;
  let hardware: ServiceProcess;
  let reader: TestReader;
  let truthCore: Core;
  let truth: SimTruth;
  const storage = tempStorage("gently-hw-");
  const ringPath = `/dev/shm/gently-test-ring-${newUid()}`;
  /** the sim's noise counter: each snap takes 1, each started sequence all its frames */
  let noiseNext = 0;

  const hwCall = <E extends EndpointContract>(contract: E, body: RequestOf<E>): Promise<ReplyOf<E>> => call(nc, contract, body);
  const state = () => hwCall(hw.state, {});
  const refusal = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e as GentlyError);

  beforeAll(async () => {
    nats = await startTestNats();
    const limitsFile = path.join(storage.dir, "limits.json");
    writeFileSync(limitsFile, JSON.stringify({ x_um: { min: 1000, max: 2000 } }));
    hardware = spawnService("hardware", {
      GENTLY_NATS_URL: nats.url,
      GENTLY_STORAGE: storage.dir,
      GENTLY_RING_PATH: ringPath,
      GENTLY_RING_SLOTS: "4",
      GENTLY_RING_TIMEOUT_MS: String(RING_TIMEOUT_MS),
      GENTLY_LIMITS: limitsFile,
    });
    await hardware.waitForLog((l) => l.includes('"msg":"started"'), 45_000);
    nc = await connectBus({ servers: nats.url, name: "hardware-test", logger });
    reader = new TestReader(nc);
    truthCore = Core.open(SIM);
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

  function sequence(overrides: Partial<RequestOf<typeof hw.startSequence>> = {}): RequestOf<typeof hw.startSequence> {
    return {
      acq_id: newUid(),
      volume_uid: newUid(),
      session_id: "hw-test",
      cameras: ["HamCam1"],
      num_slices: 5,
      exposure_ms: 20,
      laser_config: "488 only",
      ...overrides,
    };
  }

  async function start(req: RequestOf<typeof hw.startSequence>) {
    const started = await hwCall(hw.startSequence, req);
    noiseNext += started.frames_total;
    return started;
  }

  it("runs the core library named by configuration through koffi and reports it, with the configured limits and ring", async () => {
    const s = await state();
    expect(realpathSync(s.core)).toBe(realpathSync(SIM));
    expect(s.limits.x_um).toEqual({ min: 1000, max: 2000 });
    expect(s.limits.piezo_um).toEqual({ min: -200, max: 200, resolution: 0.001 });
    expect(s.ring).toEqual({ path: ringPath, slots: 4, slot_bytes: 2048 * 2048 * 2, free: 4 });
    expect(s.laser).toBe("ALL OFF");
    expect(s.owner.pid).toBe(hardware.child.pid);
    expect(s.acquisition).toBeNull();
  });

  it("refuses an out-of-limit move with device, value and limit, and moves nothing", async () => {
    const before = await state();
    const err = await refusal(hwCall(hw.move, { axis: "xy", x_um: 2500, y_um: 1500 }));
    expect(err).toBeInstanceOf(GentlyError);
    expect(err!.code).toBe("limit_violation");
    expect(err!.message).toContain("XYStage:XY:31 x_um 2500 is above the maximum 2000");
    expect(err!.message).toContain("y_um 1500 is above the maximum 1000");
    expect((err!.details as { violations: unknown[] }).violations).toEqual([
      { device: "XYStage:XY:31", field: "x_um", value: 2500, min: 1000, max: 2000 },
      { device: "XYStage:XY:31", field: "y_um", value: 1500, min: -1000, max: 1000 },
    ]);
    const piezo = await refusal(hwCall(hw.move, { axis: "piezo", piezo_um: -200.5 }));
    expect(piezo!.message).toContain("PiezoStage:P:34 piezo_um -200.5 is below the minimum -200");
    const exposure = await refusal(hwCall(hw.setCamera, { camera: "HamCam1", exposure_ms: 20_000 }));
    expect(exposure!.code).toBe("limit_violation");
    const after = await state();
    expect(after.position).toEqual(before.position);
    expect(after.cameras).toEqual(before.cameras);
  });

  it("moves inside the limits, rounding the piezo to its 0.001 µm resolution", async () => {
    await hwCall(hw.move, { axis: "xy", x_um: 1520, y_um: -12.5 });
    await hwCall(hw.move, { axis: "piezo", piezo_um: 1.23456 });
    const s = await hwCall(hw.move, { axis: "galvo", galvo_deg: 0.0123 });
    expect(s.position).toMatchObject({ x_um: 1520, y_um: -12.5, piezo_um: 1.235, galvo_b_deg: 0.0123 });
  });

  it("refuses a sequence when no writer is running, and the lasers stay off", async () => {
    const err = await refusal(hwCall(hw.startSequence, sequence()));
    expect(err!.code).toBe("unavailable");
    expect(err!.message).toMatch(/no writer is running/);
    const s = await state();
    expect(s.laser).toBe("ALL OFF");
    expect(s.acquisition).toBeNull();
  });

  it("puts frames into shared memory byte-exact to the sim's ground truth (two cameras, sweep)", async () => {
    await reader.start();
    for (const camera of ["HamCam1", "HamCam2"] as const) await hwCall(hw.setCamera, { camera, roi: ROI });
    // Centre the ROI on the sim's embryo 0 (x 1509.5, y 8.6, z 51.5 µm) so frames show it, not just background.
    await hwCall(hw.move, { axis: "xy", x_um: 1509.5, y_um: 8.5 });
    const before = await state();
    const req = sequence({
      cameras: ["HamCam1", "HamCam2"],
      num_slices: 5,
      exposure_ms: 20,
      // through the embryo with the sheet in focus (galvo = 0.02 °/µm × piezo − 1°)
      sweep: { piezo_start_um: 49.5, piezo_step_um: 1, galvo_start_deg: -0.01, galvo_step_deg: 0.02 },
    });
    const noiseBase = noiseNext;
    expect(await start(req)).toEqual({ acq_id: req.acq_id, volume_uid: req.volume_uid, frames_total: 10 });
    const end = await reader.waitEnd(req.acq_id);
    expect(end).toMatchObject({ status: "complete", frames: 10, dropped: 0 });

    const begin = reader.begins.find((b) => b.acq_id === req.acq_id)!;
    expect(begin).toMatchObject({ ring_path: ringPath, width: 256, height: 128, dtype: "uint16", pixel_size_um: 0.1625, z_step_um: 1, num_slices: 5 });
    const frames = reader.frames.get(req.acq_id)!;
    expect(frames.map((f) => f.descriptor.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const expected = Buffer.alloc(256 * 128 * 2);
    for (const [k, { descriptor, data }] of frames.entries()) {
      const slice = Math.floor(k / 2);
      const camera = req.cameras[k % 2];
      expect(descriptor).toMatchObject({ camera, camera_index: k % 2, z_index: slice, width: 256, height: 128, bytes: expected.length });
      expect(descriptor.piezo_um).toBeCloseTo(49.5 + slice, 9);
      // gently_sim.h noise rule: frame i of camera j in the list has noise index N0 + i*ncam + j.
      truth.render(camera, simStateOf(before, camera, { exposure_ms: 20, laser: "488 only", piezo_um: descriptor.piezo_um, galvo_deg: descriptor.galvo_deg }), noiseBase + slice * 2 + (k % 2), expected);
      expect(data.equals(expected), `frame ${k} (${camera}, slice ${slice})`).toBe(true);
    }
    // The embryo is in these frames: far above the dark offset (100 ADU) and its noise.
    const pixels = new Uint16Array(frames[6].data.buffer, frames[6].data.byteOffset, 256 * 128);
    expect(pixels.reduce((sum, v) => sum + v, 0) / pixels.length).toBeGreaterThan(300);
    expect(Math.max(...pixels)).toBeGreaterThan(1000);
    const after = await state();
    expect(after.laser).toBe("ALL OFF");
    expect(after.acquisition).toBeNull();
  });

  it("snaps one frame on the same path (begin, frame, end), byte-exact, lasers off after", async () => {
    const before = await state();
    const acq_id = newUid();
    const reply = await hwCall(hw.snap, { acq_id, volume_uid: newUid(), session_id: "hw-test", camera: "HamCam1", exposure_ms: 5, laser_config: "561 only" });
    const noise = noiseNext++;
    expect(reply.frame).toMatchObject({ acq_id, seq: 0, camera: "HamCam1", width: 256, height: 128 });
    expect(reply.position).toMatchObject({ x_um: 1509.5, y_um: 8.5, piezo_um: 1.235 });
    const end = await reader.waitEnd(acq_id);
    expect(end).toMatchObject({ status: "complete", frames: 1, dropped: 0 });
    const [frame] = reader.frames.get(acq_id)!;
    const expected = Buffer.alloc(256 * 128 * 2);
    truth.render("HamCam1", simStateOf(before, "HamCam1", { exposure_ms: 5, laser: "561 only", piezo_um: before.position.piezo_um, galvo_deg: before.position.galvo_b_deg }), noise, expected);
    expect(frame.data.equals(expected)).toBe(true);
    expect((await state()).laser).toBe("ALL OFF");
  });

  it("waits for a slow reader when the ring is full: 40 frames through 4 slots, nothing dropped, every seq once and in order, ring_seq unique across acquisitions", async () => {
    reader.options = { releaseDelayMs: 15 };
    const req = sequence({ num_slices: 40 });
    await start(req);
    const end = await reader.waitEnd(req.acq_id);
    expect(end).toMatchObject({ status: "complete", frames: 40, dropped: 0 });
    const frames = reader.frames.get(req.acq_id)!;
    expect(frames.map((f) => f.descriptor.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(new Set(frames.map((f) => f.descriptor.slot)).size).toBeLessThanOrEqual(4);
    expect(reader.errors).toEqual([]);
    reader.options = {};

    // seq restarts with every acquisition; ring_seq never does, so a late release of a frame of
    // this acquisition can never free a frame of the next one in the same slot.
    const next = sequence({ num_slices: 6 });
    await start(next);
    await reader.waitEnd(next.acq_id);
    const nextFrames = reader.frames.get(next.acq_id)!;
    expect(nextFrames.map((f) => f.descriptor.seq)).toEqual([0, 1, 2, 3, 4, 5]);
    const ringSeqs = [...frames, ...nextFrames].map((f) => f.descriptor.ring_seq);
    expect(ringSeqs.every((r, i) => i === 0 || r > ringSeqs[i - 1]!)).toBe(true);
  });

  it("refuses to move while a sequence runs, and an abort stops it with the lasers off", async () => {
    reader.options = { holdSlots: true };
    const req = sequence({ num_slices: 20, keepalive_ms: 60_000 });
    await start(req);
    // The reader keeps all 4 slots: the sequence waits on the full ring with the lasers on.
    const running = await waitFor(async () => {
      const s = await state();
      return s.acquisition?.frames_done === 4 ? s : null;
    }, 5_000, "ring full");
    expect(running.laser).toBe("488 only");
    const move = await refusal(hwCall(hw.move, { axis: "z", z_um: 100 }));
    expect(move!.code).toBe("conflict");
    expect(move!.message).toContain(req.acq_id);
    expect((await refusal(hwCall(hw.setPreset, { group: "Laser", preset: "ALL ON" })))!.code).toBe("conflict");
    expect((await refusal(hwCall(hw.startSequence, sequence())))!.code).toBe("conflict");

    expect(await hwCall(hw.stopSequence, { acq_id: req.acq_id, reason: "operator abort" })).toEqual({ stopped: true, acq_id: req.acq_id });
    const end = await reader.waitEnd(req.acq_id);
    expect(end).toMatchObject({ status: "aborted", frames: 4, dropped: 0, reason: "operator abort" });
    const after = await state();
    expect(after.laser).toBe("ALL OFF");
    expect(after.acquisition).toBeNull();
    expect(after.position.z_um).toBe(running.position.z_um);
    reader.releaseHeld();
    reader.options = {};
  });

  it("keeps running while keepalives come, and stops with the lasers off when they stop (watchdog)", async () => {
    reader.options = { releaseDelayMs: 40 };
    const req = sequence({ num_slices: 2000, keepalive_ms: 500 });
    await start(req);
    const aliveUntil = Date.now() + 1_500;
    while (Date.now() < aliveUntil) {
      await hwCall(hw.keepalive, { acq_id: req.acq_id });
      await new Promise((r) => setTimeout(r, 100));
    }
    const alive = await state();
    expect(alive.acquisition?.acq_id).toBe(req.acq_id);
    expect(alive.laser).toBe("488 only");
    const end = await reader.waitEnd(req.acq_id, 5_000);
    expect(end.status).toBe("aborted");
    expect(end.reason).toMatch(/^owner disappeared \(no keepalive for \d+ ms\)$/);
    expect(end.frames).toBeLessThan(2000);
    const after = await state();
    expect(after.laser).toBe("ALL OFF");
    expect(after.acquisition).toBeNull();
    reader.options = {};
  });

  it("fails the acquisition with a clear reason and the lasers off when the writer stops reading", async () => {
    reader.options = { holdSlots: true };
    const req = sequence({ num_slices: 10, laser_config: "637 only", keepalive_ms: 60_000 });
    await start(req);
    const end = await reader.waitEnd(req.acq_id, RING_TIMEOUT_MS + 10_000);
    expect(end.status).toBe("failed");
    expect(end.reason).toMatch(new RegExp(`no free ring slot within ${RING_TIMEOUT_MS} ms`));
    expect(end.frames).toBe(4);
    const after = await state();
    expect(after.laser).toBe("ALL OFF");
    expect(after.acquisition).toBeNull();
    reader.releaseHeld();
    reader.options = {};
    // Once the writer reads again the ring is whole: the next acquisition runs normally and no slot leaked.
    const next = sequence({ num_slices: 6 });
    await start(next);
    expect(await reader.waitEnd(next.acq_id)).toMatchObject({ status: "complete", frames: 6 });
    expect((await state()).ring.free).toBe(4);
  });

  it("frees the slots a dead writer left full once another writer takes the next acquisition", async () => {
    reader.options = { holdSlots: true };
    const req = sequence({ num_slices: 10, keepalive_ms: 60_000 });
    await start(req);
    await waitFor(async () => (await state()).acquisition?.frames_done === 4, 5_000, "ring full");
    await hwCall(hw.stopSequence, { acq_id: req.acq_id, reason: "writer killed" });
    await reader.waitEnd(req.acq_id);
    // The writer dies holding all 4 slots (kill -9 releases nothing); a new writer instance starts.
    await reader.stop();
    reader = new TestReader(nc);
    await reader.start();
    expect((await state()).ring.free).toBe(0);

    const next = sequence({ num_slices: 6 });
    await start(next);
    expect(await reader.waitEnd(next.acq_id)).toMatchObject({ status: "complete", frames: 6 });
    expect((await state()).ring.free).toBe(4);
    const freed = hardware.lines.filter((l) => l.includes("freed a ring slot nobody will release") && l.includes(req.acq_id));
    expect(freed).toHaveLength(4);
    expect(freed.every((l) => l.includes("its writer is gone"))).toBe(true);
  });

  it("on SIGTERM ends the running sequence as aborted with the lasers off, and exits cleanly, even when more signals follow", async () => {
    reader.options = { holdSlots: true };
    const req = sequence({ num_slices: 20, keepalive_ms: 60_000 });
    await start(req);
    await waitFor(async () => (await state()).acquisition?.frames_done === 4, 5_000, "ring full");
    expect(await hardware.stop(["SIGINT", "SIGTERM"])).toBe(0);
    expect(await reader.waitEnd(req.acq_id, 1_000)).toMatchObject({ status: "aborted", reason: "hardware service stopping" });
    expect(hardware.lines.some((l) => l.includes("already stopping"))).toBe(true);
    expect(hardware.lines.some((l) => l.includes("could not switch the lasers off"))).toBe(false);
    reader.releaseHeld();
  });
});
