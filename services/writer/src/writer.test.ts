import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fromFile } from "geotiff";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectBus, createLogger, decodeJson, jetStreamOf } from "@gently/bus";
import { openForRebuild } from "@gently/datastore";
import { readOmeMetadata, verifyChecksum } from "@gently/ome-tiff";
import { GentlyError, streams, subjects, VolumeFailed, VolumeWritten } from "@gently/protocol";
import { createRing, unlinkRing, type Ring } from "@gently/ring";
import { geotiffPlanes, spawnService, startTestNats, tempStorage, waitFor, type ServiceProcess, type TestNats } from "@gently/testing";
import { Announcer } from "./announce";
import { FrameProducer, framePixels } from "../test/frame-producer";

const logger = createLogger("writer-test", "silent");
const FRAME_TIMEOUT_MS = 1_500;
const QUOTA_BYTES = 8 << 20;
const WIDTH = 256;
const HEIGHT = 128;
const PLANE_BYTES = WIDTH * HEIGHT * 2;

interface Seen {
  subject: string;
  body: Record<string, unknown>;
  bytes: number;
  /** what was on disk the moment the announcement arrived */
  finalFileBytes?: number;
  partialsInVolumes?: string[];
}

describe("writer service", () => {
  let nats: TestNats;
  let storage: ReturnType<typeof tempStorage>;
  let writer: ServiceProcess;
  let nc: NatsConnection;
  let ring: Ring;
  let producer: FrameProducer;
  const ringPath = `/dev/shm/gently-writer-test-${process.pid}`;
  const seen: Seen[] = [];
  let volumesDir: string;

  const events = (uid: string, subject: string) => seen.filter((e) => e.subject === subject && e.body.uid === uid);
  const waitEvent = (uid: string, subject: string) =>
    waitFor(() => events(uid, subject)[0], 20_000, `${subject} for ${uid}`);

  beforeAll(async () => {
    nats = await startTestNats();
    storage = tempStorage();
    volumesDir = path.join(storage.dir, "volumes");
    // 4 slots of one frame each: most acquisitions here have more frames than slots, so they
    // complete only if the writer releases every slot promptly.
    ring = createRing(ringPath, { slotBytes: PLANE_BYTES, numSlots: 4 });
    nc = await connectBus({ servers: nats.url, name: "writer-test", logger });
    producer = new FrameProducer(nc, ring);
    nc.subscribe(subjects.volume.all, {
      callback: (_err, msg) => {
        const body = decodeJson(msg.data) as Record<string, unknown>;
        const event: Seen = { subject: msg.subject, body, bytes: msg.data.length };
        if (msg.subject === subjects.volume.written) {
          // Checked synchronously, before anything else can happen on disk.
          event.finalFileBytes = existsSync(body.path as string) ? statSync(body.path as string).size : undefined;
          event.partialsInVolumes = readdirSync(volumesDir).filter((n) => n.endsWith(".partial"));
        }
        seen.push(event);
      },
    });
    writer = spawnService("writer", {
      GENTLY_NATS_URL: nats.url,
      GENTLY_STORAGE: storage.dir,
      GENTLY_WRITER_FRAME_TIMEOUT_MS: String(FRAME_TIMEOUT_MS),
      GENTLY_STORAGE_QUOTA_BYTES: String(QUOTA_BYTES),
    });
    await writer.waitForLog((l) => l.includes('"msg":"started"'));
  });

  afterAll(async () => {
    expect(await writer?.stop()).toBe(0);
    await nc?.close();
    ring?.close();
    unlinkRing(ringPath);
    await nats?.stop();
    storage?.remove();
  });

  async function writeAll(begin: ReturnType<FrameProducer["acquisition"]>): Promise<Buffer[]> {
    const frames: Buffer[] = [];
    const total = begin.num_slices * begin.cameras.length;
    for (let seq = 0; seq < total; seq++) {
      const pixels = framePixels(begin.width * begin.height * 2, seq);
      frames.push(pixels);
      await producer.frame(begin, seq, pixels);
    }
    producer.end(begin);
    return frames;
  }

  it("writes a volume byte for byte and announces it once, after the file is complete at its final path", async () => {
    const begin = producer.acquisition({ num_slices: 12 });
    expect(await producer.begin(begin)).toMatchObject({ ready: true });
    const frames = await writeAll(begin);

    const written = await waitEvent(begin.volume_uid, subjects.volume.written);
    const body = VolumeWritten.parse(written.body);
    const finalPath = path.join(volumesDir, `${begin.volume_uid}.tif`);
    expect(body.path).toBe(finalPath);
    // Relative to the storage root, so a host that mounts the storage elsewhere finds the file.
    expect(body.storage_path).toBe(`volumes/${begin.volume_uid}.tif`);
    expect(path.join(storage.dir, body.storage_path!)).toBe(finalPath);
    expect(written.finalFileBytes).toBe(body.bytes);
    expect(written.partialsInVolumes).toEqual([]);
    expect(written.bytes).toBeLessThan(2048);
    expect(body).toMatchObject({
      data_type: "volume",
      shape: [12, HEIGHT, WIDTH],
      dtype: "uint16",
      session_id: "writer-test",
      run_uid: begin.run_uid,
      metadata: {
        dimension_order: "ZYX",
        cameras: ["HamCam1"],
        pixel_size_um: 0.1625,
        z_step_um: 1.5,
        exposure_ms: 10,
        laser_config: "488 only",
        position: begin.position,
        plan_name: "z_stack",
        acq_id: begin.acq_id,
        dropped_frames: 0,
      },
    });
    expect((await verifyChecksum(finalPath, body.checksum as never)).ok).toBe(true);

    const planes = await geotiffPlanes(finalPath);
    expect(planes).toHaveLength(12);
    planes.forEach((plane, z) => expect(plane.equals(frames[z]), `plane ${z}`).toBe(true));

    const ome = await readOmeMetadata(finalPath);
    expect(ome.pixels).toMatchObject({
      dimensionOrder: "XYCZT",
      type: "uint16",
      sizeX: WIDTH,
      sizeY: HEIGHT,
      sizeZ: 12,
      sizeC: 1,
      sizeT: 1,
      physicalSizeX_um: 0.1625,
      physicalSizeY_um: 0.1625,
      physicalSizeZ_um: 1.5,
    });
    // Each plane's Z is the piezo position its frame reported (the producer's frames all say -20 µm).
    expect(ome.planes[3]).toMatchObject({ theZ: 3, exposure_ms: 10, position_x_um: 1200.5, position_z_um: -20 });
    expect(ome.planeGalvoDeg).toEqual(Array(12).fill(0));
    expect(ome.meta).toMatchObject({ uid: begin.volume_uid, session_id: "writer-test", run_uid: begin.run_uid, plan_name: "z_stack" });
    expect(ring.stats().free).toBe(4);

    // Nothing else arrives for this uid, however long one waits for a duplicate.
    await new Promise((r) => setTimeout(r, 300));
    expect(events(begin.volume_uid, subjects.volume.written)).toHaveLength(1);
    expect(events(begin.volume_uid, subjects.volume.failed)).toHaveLength(0);
  });

  it("stores two cameras as two channels of one file, planes in acquisition order", async () => {
    const begin = producer.acquisition({ cameras: ["HamCam1", "HamCam2"], num_slices: 5, laser_config: "488 and 561" });
    await producer.begin(begin);
    const frames = await writeAll(begin);
    const body = VolumeWritten.parse((await waitEvent(begin.volume_uid, subjects.volume.written)).body);
    expect(body.shape).toEqual([5, 2, HEIGHT, WIDTH]);
    expect(body.metadata.dimension_order).toBe("ZCYX");
    const planes = await geotiffPlanes(body.path);
    expect(planes).toHaveLength(10);
    planes.forEach((plane, i) => expect(plane.equals(frames[i]), `plane ${i}`).toBe(true));
    const ome = await readOmeMetadata(body.path);
    expect(ome.pixels).toMatchObject({ dimensionOrder: "XYCZT", sizeZ: 5, sizeC: 2 });
    expect(ome.channels.map((c) => c.name)).toEqual(["HamCam1 488 and 561", "HamCam2 488 and 561"]);
    expect(ome.planes[3]).toMatchObject({ theZ: 1, theC: 1 });
  });

  it("puts each camera's frame in its plane when the cameras of a slice arrive in either order", async () => {
    const cameras = ["HamCam1", "HamCam2"] as const;
    const begin = producer.acquisition({ cameras: [...cameras], num_slices: 3 });
    await producer.begin(begin);
    // Slices 0 and 2 arrive HamCam2 first, as two cameras' buffers may deliver them.
    const order: [number, number][] = [[0, 1], [0, 0], [1, 0], [1, 1], [2, 1], [2, 0]];
    for (const [seq, [z, c]] of order.entries()) {
      await producer.frame(begin, seq, framePixels(PLANE_BYTES, z * 2 + c), { z_index: z, camera_index: c, camera: cameras[c] });
    }
    producer.end(begin);
    const body = VolumeWritten.parse((await waitEvent(begin.volume_uid, subjects.volume.written)).body);
    const planes = await geotiffPlanes(body.path);
    planes.forEach((plane, i) => expect(plane.equals(framePixels(PLANE_BYTES, i)), `plane ${i}`).toBe(true));
  });

  it("keeps a plane that arrives ahead of its turn in its ring slot until it is written, and refuses one too far ahead", async () => {
    const cameras = ["HamCam1", "HamCam2"] as const;
    const begin = producer.acquisition({ cameras: [...cameras], num_slices: 4 });
    await producer.begin(begin);
    await producer.frame(begin, 0, framePixels(PLANE_BYTES, 1), { z_index: 0, camera_index: 1, camera: cameras[1] });
    // The writer took the frame (it answers begin-to-frame in order) but cannot write it before plane 0.
    await new Promise((r) => setTimeout(r, 300));
    expect(ring.stats().full).toBe(1);
    await producer.frame(begin, 1, framePixels(PLANE_BYTES, 0), { z_index: 0, camera_index: 0, camera: cameras[0] });
    await waitFor(() => ring.stats().free === 4, 5_000, "both slots released once written");
    // 4 slots: a plane may wait at most 3 ahead, or the one it waits for would find no free slot.
    await producer.frame(begin, 2, framePixels(PLANE_BYTES, 6), { z_index: 3, camera_index: 0, camera: cameras[0] });
    const failed = VolumeFailed.parse((await waitEvent(begin.volume_uid, subjects.volume.failed)).body);
    expect(failed.reason).toBe("frame 2 (slice 3 of HamCam1) is 4 planes ahead of the next one due; the writer holds at most 3");
    producer.end(begin, { status: "aborted", frames: 3 });
    await waitFor(() => ring.stats().free === 4, 5_000, "every slot released");
  });

  it("fails a volume when a plane arrives twice", async () => {
    const begin = producer.acquisition({ num_slices: 3 });
    await producer.begin(begin);
    await producer.frame(begin, 0, framePixels(PLANE_BYTES, 0));
    await producer.frame(begin, 1, framePixels(PLANE_BYTES, 1), { z_index: 0 });
    await producer.frame(begin, 2, framePixels(PLANE_BYTES, 2));
    producer.end(begin);
    const failed = VolumeFailed.parse((await waitEvent(begin.volume_uid, subjects.volume.failed)).body);
    expect(failed).toMatchObject({ code: "device_error", reason: "frame 1 is slice 0 of HamCam1 again" });
    await waitFor(() => ring.stats().free === 4, 5_000, "every slot released");
  });

  it("announces a single plane as an image", async () => {
    const begin = producer.acquisition({ num_slices: 1, z_step_um: 0, run_uid: undefined, plan_name: undefined });
    await producer.begin(begin);
    const [frame] = await writeAll(begin);
    const body = VolumeWritten.parse((await waitEvent(begin.volume_uid, subjects.volume.written)).body);
    expect(body).toMatchObject({ data_type: "image", shape: [1, HEIGHT, WIDTH], metadata: { z_step_um: 0 } });
    expect(body.run_uid).toBeUndefined();
    expect((await geotiffPlanes(body.path))[0].equals(frame)).toBe(true);
  });

  it("fails an aborted acquisition: the partial file goes to quarantine, nothing to the final path", async () => {
    const begin = producer.acquisition({ num_slices: 8 });
    await producer.begin(begin);
    for (let seq = 0; seq < 3; seq++) await producer.frame(begin, seq, framePixels(PLANE_BYTES, seq));
    producer.end(begin, { status: "aborted", frames: 3, reason: "stopped by the operator" });
    const failed = VolumeFailed.parse((await waitEvent(begin.volume_uid, subjects.volume.failed)).body);
    expect(failed).toMatchObject({ code: "aborted", reason: "stopped by the operator", session_id: "writer-test", run_uid: begin.run_uid });
    expect(failed.quarantined_path).toBe(path.join(volumesDir, "quarantine", `${begin.volume_uid}.tif.partial`));
    expect(existsSync(failed.quarantined_path!)).toBe(true);
    expect(existsSync(path.join(volumesDir, `${begin.volume_uid}.tif`))).toBe(false);
    expect(readdirSync(volumesDir).filter((n) => n.endsWith(".partial"))).toEqual([]);
    // The three planes that arrived are in the kept file, still readable for a rescue.
    const ome = await readOmeMetadata(failed.quarantined_path!);
    expect(ome.meta?.uid).toBe(begin.volume_uid);
    expect(events(begin.volume_uid, subjects.volume.written)).toHaveLength(0);
  });

  it("fails a volume whose end reports dropped frames even though every descriptor arrived", async () => {
    const begin = producer.acquisition({ num_slices: 3 });
    await producer.begin(begin);
    for (let seq = 0; seq < 3; seq++) await producer.frame(begin, seq, framePixels(PLANE_BYTES, seq));
    producer.end(begin, { dropped: 2 });
    const failed = VolumeFailed.parse((await waitEvent(begin.volume_uid, subjects.volume.failed)).body);
    expect(failed.code).toBe("device_error");
    expect(failed.reason).toMatch(/2 frames were dropped/);
    expect(existsSync(path.join(volumesDir, `${begin.volume_uid}.tif`))).toBe(false);
    await new Promise((r) => setTimeout(r, 200));
    expect(events(begin.volume_uid, subjects.volume.written)).toHaveLength(0);
  });

  it("fails a volume when a frame descriptor is lost (a gap in seq), and keeps freeing the ring", async () => {
    const begin = producer.acquisition({ num_slices: 10 });
    await producer.begin(begin);
    await producer.frame(begin, 0, framePixels(PLANE_BYTES, 0));
    // Frame 1 reaches the ring but its descriptor never reaches the writer.
    const lostSlot = await ring.acquire(5_000);
    ring.write(lostSlot!, framePixels(PLANE_BYTES, 1));
    const lostRingSeq = producer.takeRingSeq();
    ring.commit(lostSlot!, lostRingSeq, PLANE_BYTES);
    ring.release(lostSlot!, lostRingSeq);
    // The remaining frames still flow through a 4-slot ring: the writer releases them unwritten.
    for (let seq = 2; seq < 10; seq++) await producer.frame(begin, seq, framePixels(PLANE_BYTES, seq));
    producer.end(begin);
    const failed = VolumeFailed.parse((await waitEvent(begin.volume_uid, subjects.volume.failed)).body);
    expect(failed.code).toBe("device_error");
    expect(failed.reason).toMatch(/descriptors 1\.\.1 never arrived/);
    await waitFor(() => ring.stats().free === 4, 5_000, "every slot released");
    expect(existsSync(path.join(volumesDir, `${begin.volume_uid}.tif`))).toBe(false);
  });

  it("fails a volume when no frame arrives within the frame timeout", async () => {
    const begin = producer.acquisition({ num_slices: 6 });
    await producer.begin(begin);
    await producer.frame(begin, 0, framePixels(PLANE_BYTES, 0));
    const t0 = Date.now();
    const failed = VolumeFailed.parse((await waitEvent(begin.volume_uid, subjects.volume.failed)).body);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(FRAME_TIMEOUT_MS - 200);
    expect(failed.code).toBe("timeout");
    expect(failed.reason).toMatch(/no frame for 1500 ms after frame 1 of 6/);
    expect(existsSync(failed.quarantined_path!)).toBe(true);
    expect(existsSync(path.join(volumesDir, `${begin.volume_uid}.tif`))).toBe(false);
  });

  it("refuses at begin a volume over the storage quota (disk_full), announces it failed and writes nothing", async () => {
    // 8 MiB quota; this volume is 200 planes of 64 KiB = 12.5 MiB.
    const begin = producer.acquisition({ num_slices: 200 });
    const err = await producer.begin(begin).catch((e) => e);
    expect(err).toBeInstanceOf(GentlyError);
    expect(err.code).toBe("disk_full");
    expect(err.message).toMatch(/GENTLY_STORAGE_QUOTA_BYTES/);
    const failed = VolumeFailed.parse((await waitEvent(begin.volume_uid, subjects.volume.failed)).body);
    expect(failed.code).toBe("disk_full");
    expect(failed.quarantined_path).toBeUndefined();
    expect(readdirSync(volumesDir).filter((n) => n.includes(begin.volume_uid))).toEqual([]);
  });

  it("refuses a begin whose frames do not fit a ring slot", async () => {
    const begin = producer.acquisition({ width: 512 });
    const err = await producer.begin(begin).catch((e) => e);
    expect(err).toBeInstanceOf(GentlyError);
    expect(err).toMatchObject({ code: "invalid_request", field: "width" });
    expect(err.message).toMatch(/does not fit a 65536-byte ring slot/);
  });

  it("refuses a second begin for a volume that already exists, without failing it", async () => {
    const first = producer.acquisition({ num_slices: 2 });
    await producer.begin(first);
    await writeAll(first);
    await waitEvent(first.volume_uid, subjects.volume.written);
    const again = producer.acquisition({ volume_uid: first.volume_uid, num_slices: 2 });
    const err = await producer.begin(again).catch((e) => e);
    expect(err).toMatchObject({ code: "conflict" });
    await new Promise((r) => setTimeout(r, 200));
    expect(events(first.volume_uid, subjects.volume.failed)).toHaveLength(0);
  });

  it("stores a repeated announcement of the same uid once (Nats-Msg-Id dedupe on GENTLY_DATA)", async () => {
    const begin = producer.acquisition({ num_slices: 2 });
    await producer.begin(begin);
    await writeAll(begin);
    const body = VolumeWritten.parse((await waitEvent(begin.volume_uid, subjects.volume.written)).body);
    const { js, jsm } = await jetStreamOf(nc);
    const before = (await jsm.streams.info(streams.data.name)).state.messages;
    // What a writer retrying after a lost ack would send.
    const ack = await new Announcer(js, logger).written(body);
    expect(ack.duplicate).toBe(true);
    expect((await jsm.streams.info(streams.data.name)).state.messages).toBe(before);
  });

  it("leaves in each file what a DataStore rebuild needs to recover its volume.written without the bus", async () => {
    const begin = producer.acquisition({ cameras: ["HamCam1", "HamCam2"], num_slices: 2 });
    await producer.begin(begin);
    await writeAll(begin);
    const written = VolumeWritten.parse((await waitEvent(begin.volume_uid, subjects.volume.written)).body);
    const { store } = openForRebuild(storage.dir);
    try {
      await store.rebuild();
      const item = store.get(begin.volume_uid);
      expect(item).toMatchObject({
        data_type: written.data_type,
        shape: written.shape,
        dtype: written.dtype,
        session_id: written.session_id,
        run_uid: written.run_uid,
        bytes: written.bytes,
        checksum: written.checksum,
        metadata: written.metadata,
      });
    } finally {
      store.close();
    }
  });

  it("writes full frames straight from their ring slots to 4096-aligned file offsets (O_DIRECT), byte for byte", async () => {
    // 1024×512 uint16 = 1 MiB per frame: the smallest that the sink writes with O_DIRECT.
    const [width, height] = [1024, 512];
    const fullRingPath = `${ringPath}-full`;
    const fullRing = createRing(fullRingPath, { slotBytes: width * height * 2, numSlots: 3 });
    try {
      const full = new FrameProducer(nc, fullRing);
      const begin = full.acquisition({ cameras: ["HamCam1", "HamCam2"], num_slices: 2, width, height });
      await full.begin(begin);
      const frames: Buffer[] = [];
      for (let seq = 0; seq < 4; seq++) {
        frames.push(framePixels(width * height * 2, seq));
        await full.frame(begin, seq, frames[seq]);
      }
      full.end(begin);
      const written = VolumeWritten.parse((await waitEvent(begin.volume_uid, subjects.volume.written)).body);
      expect((await verifyChecksum(written.path, written.checksum as never)).ok).toBe(true);
      const planes = await geotiffPlanes(written.path);
      planes.forEach((plane, i) => expect(plane.equals(frames[i]), `plane ${i}`).toBe(true));
      const tiff = await fromFile(written.path);
      try {
        for (let i = 0; i < 4; i++) {
          const offset = ((await (await tiff.getImage(i)).fileDirectory.loadValue("StripOffsets")) as ArrayLike<number>)[0];
          expect(offset % 4096, `plane ${i} offset`).toBe(0);
        }
      } finally {
        await tiff.close();
      }
      expect(fullRing.stats().free).toBe(3);
    } finally {
      fullRing.close();
      unlinkRing(fullRingPath);
    }
  });
});
