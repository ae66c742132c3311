import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FatalConfigError } from "@gently/bus";
import { GentlyError } from "@gently/protocol";
import { nativeLibraryPath } from "@gently/native";
import { Core } from "./core-binding";
import { SimTruth } from "./sim-truth";

const SIM = nativeLibraryPath("gently_sim");

function thrownError(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a throw");
}

const thrown = (fn: () => unknown) => thrownError(fn) as GentlyError;

describe("core binding (koffi over libgently_sim.so)", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "gently-core-"));
  let core: Core;
  const writeConfig = (name: string, config: object) => {
    const file = path.join(dir, name);
    writeFileSync(file, JSON.stringify(config));
    return file;
  };

  beforeAll(async () => {
    // Paced frames (one per 150 ms) make the asynchronous wait observable; a slow XY stage the moves'.
    const config = path.join(dir, "sim.json");
    writeFileSync(config, JSON.stringify({ frame_interval_ms: 150, seed: 7, move_ms: { xy: 400 } }));
    core = Core.open(SIM, config, 1_000);
    await core.setRoi("HamCam1", { x: 0, y: 0, width: 64, height: 32 });
  });

  afterAll(() => {
    core?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("reports a config the core rejects with the core's own reason, as a fatal configuration error", () => {
    const bad = path.join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ limits: {} }));
    const err = thrownError(() => Core.open(SIM, bad));
    expect(err).toBeInstanceOf(FatalConfigError);
    expect(err.message).toContain("unknown key 'limits'");
    expect(err.message).toContain(bad);
  });

  it("reports a library that does not load as a fatal configuration error naming it", () => {
    const err = thrownError(() => Core.open(path.join(dir, "libnothing.so")));
    expect(err).toBeInstanceOf(FatalConfigError);
    expect(err.message).toMatch(/cannot load core library .*libnothing\.so \(GENTLY_CORE_LIBRARY\)/);
  });

  it("turns a failing call into device_error carrying gc_last_error", async () => {
    await expect(core.setPosition("NoSuchStage", 1)).rejects.toThrowError(/move NoSuchStage to 1 µm: unknown device 'NoSuchStage'/);
    const err = thrown(() => core.getExposure("NoSuchCamera"));
    expect(err.code).toBe("device_error");
    expect(err.details).toEqual({ rc: -1, code: "GC_E_ARGUMENT" });
  });

  it("turns a value the device refuses itself (GC_E_RANGE) into limit_violation, keeping the core's message", async () => {
    const err = await core.setProperty("LaserCombiner", "PowerSetpoint488", "101").then(
      () => null,
      (e: unknown) => e as GentlyError,
    );
    expect(err?.code).toBe("limit_violation");
    expect(err?.message).toContain("bad value '101' (percent in [0, 100])");
    expect(err?.details).toEqual({ rc: -8, code: "GC_E_RANGE" });
  });

  it("reads back what it set: positions, presets, camera settings", async () => {
    await core.setXY("XYStage:XY:31", 1234.5, -6.25);
    await core.setScanner("Scanner:AB:33", 0.5, -0.25);
    await core.setConfig("Laser", "561 only");
    await core.setExposure("HamCam1", 12.5);
    expect(core.getXY("XYStage:XY:31")).toEqual({ x_um: 1234.5, y_um: -6.25 });
    expect(core.getScanner("Scanner:AB:33")).toEqual({ a_deg: 0.5, b_deg: -0.25 });
    expect(core.getConfig("Laser")).toBe("561 only");
    expect(core.getExposure("HamCam1")).toBe(12.5);
    expect(core.getRoi("HamCam1")).toEqual({ x: 0, y: 0, width: 64, height: 32 });
    expect(core.frameBytes("HamCam1")).toBe(64 * 32 * 2);
    expect(core.listDevices().cameras).toEqual(["HamCam1", "HamCam2", "Bottom PCO"]);
  });

  it("waits for frames on a worker thread: the event loop keeps running during gc_pop_next", async () => {
    const buf = Buffer.alloc(64 * 32 * 2);
    await core.startSequence(["HamCam1"], 2, { num_slices: 2, piezo_start_um: 1, piezo_step_um: 0.5, galvo_start_deg: 0.01, galvo_step_deg: 0.005 });
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 10);
    const first = await core.popNext(buf, undefined, 1_000);
    clearInterval(ticker);
    expect(ticks).toBeGreaterThanOrEqual(5);
    expect(first.status).toBe("frame");
    if (first.status === "frame") expect(first.meta).toMatchObject({ seq: 0, width: 64, height: 32, bytes_per_pixel: 2, piezo_um: 1 });
    expect(await core.popNext(buf, undefined, 10)).toEqual({ status: "timeout", dropped: 0 });
    const second = await core.popNext(buf, undefined, 1_000);
    expect(second.status === "frame" && second.meta.piezo_um).toBe(1.5);
    expect(await core.popNext(buf, undefined, 10)).toEqual({ status: "finished", dropped: 0 });
    expect(core.isSequenceRunning()).toBe(false);
  });

  it("waits for a moving stage on a worker thread, and fails a call past its deadline with timeout", async () => {
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 10);
    const t0 = Date.now();
    await core.setXY("XYStage:XY:31", 1234.5, -6.25);
    await core.waitForDevice("XYStage:XY:31");
    clearInterval(ticker);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(380);
    expect(ticks).toBeGreaterThanOrEqual(20);
    // Positions are read on the event loop while a worker waits for the stage.
    await core.setXY("XYStage:XY:31", 1234.5, -6.25);
    const waiting = core.waitForDevice("XYStage:XY:31");
    expect(core.getXY("XYStage:XY:31")).toEqual({ x_um: 1234.5, y_um: -6.25 });
    await waiting;
    const slow = Core.open(SIM, writeConfig("slow.json", { move_ms: { xy: 2_000 } }), 300);
    try {
      await slow.setXY("XYStage:XY:31", 1500, 0);
      const err = await slow.waitForDevice("XYStage:XY:31").then(() => null, (e: GentlyError) => e);
      expect(err?.code).toBe("timeout");
      expect(err?.message).toBe("wait for XYStage:XY:31: the core did not answer within 300 ms");
    } finally {
      // the worker's wait ends on its own within the move time; close only after it
      await new Promise((r) => setTimeout(r, 1_900));
      slow.close();
    }
  });

  it("gives each failing device call its own message, however many fail at once on other threads", async () => {
    const calls = Array.from({ length: 30 }, (_, i) => core.setPosition(`NoSuchStage${i}`, 1).then(() => null, (e: GentlyError) => e));
    // failures on the event loop meanwhile must not leak into the workers' messages either
    for (let i = 0; i < 30; i++) expect(() => core.getExposure(`NoSuchCamera${i}`)).toThrowError(`NoSuchCamera${i}`);
    const errors = await Promise.all(calls);
    errors.forEach((err, i) => expect(err?.message).toBe(`move NoSuchStage${i} to 1 µm: unknown device 'NoSuchStage${i}'`));
  });

  it("switches the lasers off at once while another worker waits for a slow stage", async () => {
    const slow = Core.open(SIM, writeConfig("slow-move.json", { move_ms: { xy: 1_500 } }));
    try {
      await slow.setXY("XYStage:XY:31", 1500, 0);
      const waiting = slow.waitForDevice("XYStage:XY:31");
      const t0 = Date.now();
      await slow.setConfig("Laser", "ALL OFF");
      expect(Date.now() - t0).toBeLessThan(300);
      await waiting;
    } finally {
      slow.close();
    }
  });

  it("snaps asynchronously into a buffer, byte-identical to the sim's rendering of the same state", async () => {
    const truth = new SimTruth(core);
    const state = truth.state("HamCam1");
    const noise = Number(core.getProperty("Sim", "NoiseIndex"));
    const buf = Buffer.alloc(64 * 32 * 2);
    const meta = await core.snap("HamCam1", buf);
    expect(meta).toMatchObject({ seq: 0, camera_index: 0, x_um: 1234.5 });
    const expected = Buffer.alloc(buf.length);
    truth.render("HamCam1", state, noise, expected);
    expect(buf.equals(expected)).toBe(true);
  });
});
