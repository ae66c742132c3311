import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { call, connectBus, createLogger, decodeJson } from "@gently/bus";
import { readOmeMetadata } from "@gently/ome-tiff";
import { hw, newUid, subjects, type RequestOf } from "@gently/protocol";
import { nativeLibraryPath } from "@gently/native";
import { geotiffPlanes, spawnService, startTestNats, tempStorage, waitFor, type ServiceProcess, type TestNats } from "@gently/testing";
import { Core } from "./core-binding";
import { SimTruth } from "./sim-truth";
import { simStateOf } from "../test/sim-state";
import { TestReader } from "../test/test-reader";

const logger = createLogger("continuous-test", "silent");
const ROI = { x: 896, y: 960, width: 256, height: 128 };
const PLANE_BYTES = ROI.width * ROI.height * 2;
const RING_SLOTS = 12;
const WRITER_FRAME_TIMEOUT_MS = 2_500;

describe("continuous volumes (real hardware and writer processes, real NATS, real ring and files)", () => {
  let nats: TestNats;
  let nc: NatsConnection;
  let hardware: ServiceProcess;
  let writer: ServiceProcess;
  let truthCore: Core;
  let truth: SimTruth;
  let volumeSub: Subscription;
  const announced: { subject: string; uid: string; path?: string; reason?: string }[] = [];
  const storage = tempStorage("gently-continuous-");
  const ringPath = `/dev/shm/gently-test-ring-${newUid()}`;

  beforeAll(async () => {
    nats = await startTestNats();
    const env = { GENTLY_NATS_URL: nats.url, GENTLY_STORAGE: storage.dir, GENTLY_RING_PATH: ringPath, GENTLY_WRITER_RESERVE_BYTES: "0" };
    hardware = spawnService("hardware", { ...env, GENTLY_RING_SLOTS: String(RING_SLOTS), GENTLY_RING_TIMEOUT_MS: "4000" });
    // a writer gives up on a volume whose next frame is this late: volumes begun ahead must not wait that long
    writer = spawnService("writer", { ...env, GENTLY_WRITER_FRAME_TIMEOUT_MS: String(WRITER_FRAME_TIMEOUT_MS) });
    await hardware.waitForLog((l) => l.includes('"msg":"started"'), 45_000);
    await writer.waitForLog((l) => l.includes('"msg":"started"'), 45_000);
    nc = await connectBus({ servers: nats.url, name: "continuous-test", logger });
    volumeSub = nc.subscribe(subjects.volume.all, {
      callback: (_err, msg) => {
        const body = decodeJson(msg.data) as { uid: string; path?: string; reason?: string };
        announced.push({ subject: msg.subject, uid: body.uid, path: body.path, reason: body.reason });
      },
    });
    for (const camera of ["HamCam1", "HamCam2"] as const) await call(nc, hw.setCamera, { camera, roi: ROI });
    truthCore = Core.open(nativeLibraryPath("gently_sim"));
    truth = new SimTruth(truthCore);
  }, 60_000);

  afterAll(async () => {
    volumeSub?.unsubscribe();
    await writer?.stop();
    await hardware?.stop();
    truthCore?.close();
    await nc?.close();
    await nats?.stop();
    storage.remove();
  });

  function continuous(volumes: number, overrides: Partial<RequestOf<typeof hw.startSequence>> = {}): RequestOf<typeof hw.startSequence> {
    return {
      acq_id: newUid(),
      volume_uid: newUid(),
      session_id: "continuous-test",
      cameras: ["HamCam1", "HamCam2"],
      num_slices: 3,
      exposure_ms: 20,
      sweep: { piezo_start_um: 49.5, piezo_step_um: 1, galvo_start_deg: -0.01, galvo_step_deg: 0.02 },
      laser_config: "488 only",
      next_volumes: Array.from({ length: volumes - 1 }, () => ({ acq_id: newUid(), volume_uid: newUid() })),
      ...overrides,
    };
  }

  it("writes N volumes from one sequence into N files, each announced, frames byte-exact and in order across the boundaries", async () => {
    await call(nc, hw.move, { axis: "xy", x_um: 1509.5, y_um: 8.5 });
    const before = await call(nc, hw.state, {});
    const req = continuous(4);
    const uids = [req.volume_uid, ...req.next_volumes!.map((v) => v.volume_uid)];
    const started = await call(nc, hw.startSequence, req);
    expect(started.frames_total).toBe(4 * 3 * 2);
    const written = await waitFor(() => {
      const done = uids.map((uid) => announced.find((a) => a.uid === uid));
      return done.every(Boolean) ? done : null;
    }, 30_000, "every volume announced").catch((err) => {
      console.log(JSON.stringify(announced), writer.lines.slice(-20).join("\n"), hardware.lines.slice(-20).join("\n"));
      throw err;
    });
    expect(written.map((a) => a!.subject), JSON.stringify(written)).toEqual(uids.map(() => subjects.volume.written));

    // The sim's noise rule: slice i of the sequence (counted over all volumes), camera j, has noise index i × 2 + j
    // (the hardware process started fresh and this is its first sequence).
    const expected = Buffer.alloc(PLANE_BYTES);
    for (const [v, a] of written.entries()) {
      const planes = await geotiffPlanes(a!.path!);
      expect(planes.length, `volume ${v}`).toBe(3 * 2);
      for (const [k, plane] of planes.entries()) {
        const slice = Math.floor(k / 2);
        const camera = req.cameras[k % 2];
        const piezo = 49.5 + slice;
        const galvo = -0.01 + slice * 0.02;
        truth.render(camera, simStateOf(before, camera, { exposure_ms: 20, laser: "488 only", piezo_um: piezo, galvo_deg: galvo }), (v * 3 + slice) * 2 + (k % 2), expected);
        expect(plane.equals(expected), `volume ${v}, slice ${slice}, ${camera}`).toBe(true);
      }
    }
    const after = await call(nc, hw.state, {});
    expect(after.laser).toBe("ALL OFF");
    expect(after.acquisition).toBeNull();
  }, 60_000);

  it("sends a volume's begin about a second before its first frame, so volumes longer than the writer's frame timeout are all written", async () => {
    // 70 slices at 50 ms: 3.5 s a volume, longer than the writer waits for a frame
    const req = continuous(2, { cameras: ["HamCam1"], num_slices: 70, exposure_ms: 50, keepalive_ms: 60_000 });
    const uids = [req.volume_uid, req.next_volumes![0].volume_uid];
    await call(nc, hw.startSequence, req);
    const settled = await waitFor(() => {
      const done = uids.map((uid) => announced.find((a) => a.uid === uid));
      return done.every(Boolean) ? done : null;
    }, 30_000, "both long volumes announced");
    expect(settled.map((a) => [a!.subject, a!.reason])).toEqual(uids.map(() => [subjects.volume.written, undefined]));
  }, 60_000);

  it("a stopped continuous sequence ends its current volume and the one begun ahead; volumes already written stay written", async () => {
    const req = continuous(50, { num_slices: 20, exposure_ms: 20 });
    const uids = [req.volume_uid, ...req.next_volumes!.map((v) => v.volume_uid)];
    await call(nc, hw.startSequence, req);
    await waitFor(() => announced.find((a) => a.uid === uids[0]), 20_000, "the first volume");
    await call(nc, hw.stopSequence, { acq_id: req.acq_id, reason: "test stops it" });
    const settled = await waitFor(() => {
      const last = uids.findLastIndex((uid) => announced.some((a) => a.uid === uid));
      const ahead = uids.slice(0, last + 1).map((uid) => announced.find((a) => a.uid === uid));
      return last >= 1 && ahead.every(Boolean) && announced.find((a) => a.uid === uids[last])?.subject === subjects.volume.failed ? ahead : null;
    }, 20_000, "the stopped volumes failed");
    const failed = settled.filter((a) => a!.subject === subjects.volume.failed);
    expect(failed.length, JSON.stringify(settled)).toBeGreaterThanOrEqual(1);
    expect(failed.length, JSON.stringify(settled)).toBeLessThanOrEqual(2);
    expect(settled[0]!.subject).toBe(subjects.volume.written);
    expect(failed.map((a) => a!.reason).join(" ")).toContain("test stops it");
    expect((await call(nc, hw.state, {})).laser).toBe("ALL OFF");
  }, 60_000);

  it("a writer that falls behind fills the ring, then the run fails naming the frames dropped", async () => {
    await writer.stop();
    const slow = new TestReader(nc, { releaseDelayMs: 500 });
    await slow.start();
    try {
      const req = continuous(5, { num_slices: 10, exposure_ms: 2 });
      await call(nc, hw.startSequence, req);
      const end = await slow.waitEnd(req.acq_id);
      expect(end.status).toBe("failed");
      expect(end.dropped).toBeGreaterThanOrEqual(1);
      expect(end.reason).toMatch(new RegExp(`all ${RING_SLOTS} ring slots held frames waiting to be written.*\\(${end.dropped} frames dropped in volume 1 of 5\\)`));
      // Every frame before the drop went through the ring: at least the ring's capacity.
      expect(slow.frames.get(req.acq_id)!.length).toBeGreaterThanOrEqual(RING_SLOTS);
      // The volume begun ahead is ended too, so its writer does not wait for frames that will never come.
      const ahead = await slow.waitEnd(req.next_volumes![0].acq_id);
      expect(ahead).toMatchObject({ status: "failed", frames: 0 });
      expect((await call(nc, hw.state, {})).laser).toBe("ALL OFF");
    } finally {
      await slow.stop();
    }
  }, 60_000);
});

describe("continuous volumes on a core without hardware sequencing (stepped sweep)", () => {
  let nats: TestNats;
  let nc: NatsConnection;
  let hardware: ServiceProcess;
  let writer: ServiceProcess;
  const storage = tempStorage("gently-continuous-stepped-");

  beforeAll(async () => {
    nats = await startTestNats();
    const simConfig = path.join(storage.dir, "sim.json");
    writeFileSync(simConfig, JSON.stringify({ hardware_sweep: false }));
    const env = { GENTLY_NATS_URL: nats.url, GENTLY_STORAGE: storage.dir, GENTLY_RING_PATH: `/dev/shm/gently-test-ring-${newUid()}`, GENTLY_WRITER_RESERVE_BYTES: "0" };
    hardware = spawnService("hardware", { ...env, GENTLY_CONFIG: simConfig, GENTLY_RING_SLOTS: "8" });
    writer = spawnService("writer", env);
    await Promise.all([hardware, writer].map((p) => p.waitForLog((l) => l.includes('"msg":"started"'), 45_000)));
    nc = await connectBus({ servers: nats.url, name: "continuous-stepped-test", logger });
    await call(nc, hw.setCamera, { camera: "HamCam1", roi: ROI });
  }, 60_000);

  afterAll(async () => {
    await writer?.stop();
    await hardware?.stop();
    await nc?.close();
    await nats?.stop();
    storage.remove();
  });

  it("steps every slice of every volume, each volume its own file with the positions read back per plane", async () => {
    const announced: { subject: string; uid: string; path?: string }[] = [];
    const sub = nc.subscribe(subjects.volume.all, {
      callback: (_err, msg) => {
        const body = decodeJson(msg.data) as { uid: string; path?: string };
        announced.push({ subject: msg.subject, uid: body.uid, path: body.path });
      },
    });
    try {
      const req = {
        acq_id: newUid(),
        volume_uid: newUid(),
        session_id: "continuous-test",
        cameras: ["HamCam1" as const],
        num_slices: 3,
        exposure_ms: 5,
        sweep: { piezo_start_um: 40, piezo_step_um: 2, galvo_start_deg: -0.1, galvo_step_deg: 0.05 },
        laser_config: "488 only" as const,
        next_volumes: [0, 1].map(() => ({ acq_id: newUid(), volume_uid: newUid() })),
      };
      const uids = [req.volume_uid, ...req.next_volumes.map((v) => v.volume_uid)];
      await call(nc, hw.startSequence, req);
      const written = await waitFor(() => {
        const done = uids.map((uid) => announced.find((a) => a.uid === uid));
        return done.every(Boolean) ? done : null;
      }, 30_000, "every stepped volume announced");
      expect(written.map((a) => a!.subject)).toEqual(uids.map(() => subjects.volume.written));
      for (const a of written) {
        const ome = await readOmeMetadata(a!.path!);
        expect(ome.meta?.sheet_sweep?.mode).toBe("stepped");
        expect(ome.meta?.plane_positions).toBe("measured");
        expect(ome.planes.map((p) => p.position_z_um)).toEqual([40, 42, 44]);
        expect((await geotiffPlanes(a!.path!)).length).toBe(3);
      }
      expect((await call(nc, hw.state, {})).laser).toBe("ALL OFF");
    } finally {
      sub.unsubscribe();
    }
  }, 60_000);
});
