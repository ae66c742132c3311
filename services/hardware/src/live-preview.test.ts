import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NatsConnection } from "@nats-io/transport-node";
import { call, connectBus, createLogger, decodeJson } from "@gently/bus";
import {
  DeviceState,
  hw,
  newUid,
  PREVIEW_MAX_SIDE,
  PreviewFrame,
  subjects,
  type EndpointContract,
  type ReplyOf,
  type RequestOf,
} from "@gently/protocol";
import { spawnService, startTestNats, tempStorage, waitFor, type ServiceProcess, type TestNats } from "@gently/testing";
import { reduceFrame } from "./preview";
import { TestReader } from "../test/test-reader";

const logger = createLogger("hardware-live-test", "silent");

/** Collects every message of a subject, parsed by its schema, with the local receive time. */
function collect<T>(nc: NatsConnection, subject: string, parse: (body: unknown) => T) {
  const got: { at: number; body: T }[] = [];
  const sub = nc.subscribe(subject, {
    callback: (_err, m) => {
      got.push({ at: performance.now(), body: parse(decodeJson(m.data)) });
    },
  });
  return { got, stop: () => sub.unsubscribe() };
}

describe("live preview and device state (real hardware process, real NATS, real ring)", () => {
  let nats: TestNats;
  let nc: NatsConnection;
  let hardware: ServiceProcess;
  let reader: TestReader;
  const storage = tempStorage("gently-hw-live-");
  const hwCall = <E extends EndpointContract>(contract: E, body: RequestOf<E>): Promise<ReplyOf<E>> => call(nc, contract, body);

  beforeAll(async () => {
    nats = await startTestNats();
    hardware = spawnService("hardware", {
      GENTLY_NATS_URL: nats.url,
      GENTLY_STORAGE: storage.dir,
      GENTLY_RING_PATH: `/dev/shm/gently-test-ring-${newUid()}`,
      GENTLY_RING_SLOTS: "8",
    });
    await hardware.waitForLog((l) => l.includes('"msg":"started"'), 45_000);
    nc = await connectBus({ servers: nats.url, name: "hardware-live-test", logger });
    reader = new TestReader(nc);
    await reader.start();
  });

  afterAll(async () => {
    await reader?.stop();
    await hardware?.stop();
    await nc?.close();
    await nats?.stop();
    storage.remove();
  });

  it("publishes the device state at least twice a second while idle, with positions read back after a move", async () => {
    const states = collect(nc, subjects.device.state, (b) => DeviceState.parse(b));
    await new Promise((r) => setTimeout(r, 1_100));
    expect(states.got.length).toBeGreaterThanOrEqual(3);
    expect(states.got.at(-1)!.body).toMatchObject({ laser: "ALL OFF", activity: null });
    await hwCall(hw.move, { axis: "piezo", piezo_um: 12.5 });
    await waitFor(() => states.got.some((s) => s.body.position.piezo_um === 12.5), 2_000);
    states.stop();
  });

  it("previews a sequence (≤ 512 px, ≤ 10/s, block means of the real frame) without losing a frame", async () => {
    const previews = collect(nc, subjects.device.preview, (b) => PreviewFrame.parse(b));
    const states = collect(nc, subjects.device.state, (b) => DeviceState.parse(b));
    const acq = newUid();
    const runUid = newUid();
    // default ROI 2048×512 at 10 ms: 100 frames/s, so 100 slices take ~1 s
    await hwCall(hw.startSequence, {
      acq_id: acq,
      volume_uid: newUid(),
      session_id: "live-test",
      run_uid: runUid,
      plan_name: "acquire_volume",
      cameras: ["HamCam1"],
      num_slices: 100,
      exposure_ms: 10,
      laser_config: "488 only",
      sweep: { piezo_start_um: 25, piezo_step_um: 0.5, galvo_start_deg: -0.5, galvo_step_deg: 0.01 },
    });
    const end = await reader.waitEnd(acq);
    expect(end).toMatchObject({ status: "complete", frames: 100, dropped: 0 });
    await new Promise((r) => setTimeout(r, 300));
    previews.stop();
    states.stop();
    const mine = previews.got.filter((p) => p.body.acq_id === acq);
    expect(mine.length).toBeGreaterThanOrEqual(3);
    // ≤ 10 per second: consecutive previews of a camera at least ~100 ms apart (sender clock)
    for (let i = 1; i < mine.length; i++) expect(mine[i].body.published_us - mine[i - 1].body.published_us).toBeGreaterThan(95_000);
    const frames = reader.frames.get(acq)!;
    for (const { body } of mine) {
      expect(body).toMatchObject({ camera: "HamCam1", source: "sequence", run_uid: runUid, width: 512, height: 128, bin: 4, frame_width: 2048, frame_height: 512, exposure_ms: 10 });
      expect(Math.max(body.width, body.height)).toBeLessThanOrEqual(PREVIEW_MAX_SIDE);
      expect(body.pixel_size_um).toBeCloseTo(0.1625 * 4, 6);
      const frame = frames[body.seq];
      expect(body.piezo_um).toBe(frame.descriptor.piezo_um);
      const pixels = new Uint16Array(frame.data.buffer, frame.data.byteOffset, 2048 * 512);
      const expected = reduceFrame(pixels, 2048, 512);
      const got = new Uint16Array(new Uint8Array(Buffer.from(body.pixels, "base64")).buffer);
      expect(got).toEqual(expected.pixels);
      expect([body.min, body.max]).toEqual([expected.min, expected.max]);
    }
    // the state showed the sequence with its run and frames moving, then idle again
    const during = states.got.map((s) => s.body.activity).filter((a) => a?.acq_id === acq);
    expect(during.length).toBeGreaterThan(0);
    expect(during[0]).toMatchObject({ kind: "sequence", run_uid: runUid, plan_name: "acquire_volume", frames_total: 100 });
    expect(states.got.at(-1)!.body).toMatchObject({ activity: null, laser: "ALL OFF" });
  });

  it("drops previews first when the writer falls behind: every frame still arrives, previews stop while the ring is nearly full", async () => {
    await reader.stop();
    // a writer that needs 60 ms per frame against a camera that gives one every 2.5 ms: the 8-slot ring fills at once
    const slow = new TestReader(nc, { releaseDelayMs: 60 });
    await slow.start();
    try {
      const previews = collect(nc, subjects.device.preview, (b) => PreviewFrame.parse(b));
      const acq = newUid();
      await hwCall(hw.startSequence, { acq_id: acq, volume_uid: newUid(), session_id: "live-test", cameras: ["HamCam1"], num_slices: 40, exposure_ms: 2, laser_config: "488 only" });
      const t0 = performance.now();
      expect(await slow.waitEnd(acq)).toMatchObject({ status: "complete", frames: 40, dropped: 0 });
      const seconds = (performance.now() - t0) / 1000;
      previews.stop();
      const mine = previews.got.filter((p) => p.body.acq_id === acq);
      // ~2.4 s at the writer's pace would allow ~24 previews at 10/s; with the ring full only those before it filled go out
      expect(seconds).toBeGreaterThan(2);
      expect(mine.length).toBeLessThanOrEqual(2);
    } finally {
      await slow.stop();
      reader = new TestReader(nc);
      await reader.start();
    }
  });

  it("previews a snap", async () => {
    const previews = collect(nc, subjects.device.preview, (b) => PreviewFrame.parse(b));
    const acq = newUid();
    await hwCall(hw.snap, { acq_id: acq, volume_uid: newUid(), session_id: "live-test", camera: "Bottom PCO", exposure_ms: 5, led: "Open" });
    await waitFor(() => previews.got.some((p) => p.body.acq_id === acq), 2_000);
    previews.stop();
    expect(previews.got.find((p) => p.body.acq_id === acq)!.body).toMatchObject({ source: "snap", camera: "Bottom PCO", width: 512, height: 512, bin: 4 });
  });

  it("streams live view at ≤ 10 previews/s until stopped, refuses other work meanwhile, lasers off after", async () => {
    const previews = collect(nc, subjects.device.preview, (b) => PreviewFrame.parse(b));
    const acq = newUid();
    await hwCall(hw.startLive, { acq_id: acq, camera: "HamCam1", exposure_ms: 10, laser_config: "561 only", max_duration_s: 30, keepalive_ms: 2_000 });
    expect((await hwCall(hw.state, {})).laser).toBe("561 only");
    await expect(hwCall(hw.move, { axis: "piezo", piezo_um: 1 })).rejects.toMatchObject({ code: "conflict" });
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await hwCall(hw.keepalive, { acq_id: acq })).toMatchObject({ ok: true });
    expect(await hwCall(hw.stopSequence, { acq_id: acq, reason: "test done" })).toEqual({ stopped: true, acq_id: acq });
    const seconds = (performance.now() - t0) / 1000;
    previews.stop();
    const live = previews.got.filter((p) => p.body.acq_id === acq);
    expect(live.length).toBeGreaterThanOrEqual(7);
    expect(live.length).toBeLessThanOrEqual(Math.ceil(seconds * 10) + 2);
    expect(live[0].body).toMatchObject({ source: "live", camera: "HamCam1", exposure_ms: 10 });
    expect((await hwCall(hw.state, {})).laser).toBe("ALL OFF");
  });

  it("ends live view at max_duration_s, and when its owner goes silent", async () => {
    const acq = newUid();
    await hwCall(hw.startLive, { acq_id: acq, camera: "HamCam1", exposure_ms: 5, laser_config: "488 only", max_duration_s: 0.5 });
    await waitFor(async () => (await hwCall(hw.state, {})).laser === "ALL OFF", 3_000);
    const silent = newUid();
    await hwCall(hw.startLive, { acq_id: silent, camera: "HamCam1", exposure_ms: 5, laser_config: "488 only", max_duration_s: 60, keepalive_ms: 300 });
    await waitFor(async () => (await hwCall(hw.state, {})).laser === "ALL OFF", 3_000);
    await hwCall(hw.move, { axis: "piezo", piezo_um: 2 });
  });
});
