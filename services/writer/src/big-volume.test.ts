import { existsSync } from "node:fs";
import path from "node:path";
import { fromFile } from "geotiff";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectBus, createLogger, decodeJson } from "@gently/bus";
import { readOmeMetadata, verifyChecksum } from "@gently/ome-tiff";
import { subjects, VolumeWritten } from "@gently/protocol";
import { createRing, unlinkRing, type Ring } from "@gently/ring";
import { spawnService, startTestNats, tempStorage, waitFor, type ServiceProcess, type TestNats } from "@gently/testing";
import { FrameProducer, framePixels } from "../test/frame-producer";

// 4.4 GB on disk and a few minutes: run with GENTLY_TEST_BIG=1.
const BIG = process.env.GENTLY_TEST_BIG === "1";
const WIDTH = 2048;
const HEIGHT = 2048;
const PLANE_BYTES = WIDTH * HEIGHT * 2;
const SLICES = 520; // 520 × 8 MiB = 4.36 GB, past the 4 GiB of classic TIFF offsets

describe.skipIf(!BIG)("writer: a volume past 4 GiB", () => {
  let nats: TestNats;
  let storage: ReturnType<typeof tempStorage>;
  let writer: ServiceProcess;
  let nc: NatsConnection;
  let ring: Ring;
  const ringPath = `/dev/shm/gently-writer-big-test-${process.pid}`;
  const written: VolumeWritten[] = [];

  beforeAll(async () => {
    nats = await startTestNats();
    storage = tempStorage();
    ring = createRing(ringPath, { slotBytes: PLANE_BYTES, numSlots: 8 });
    nc = await connectBus({ servers: nats.url, name: "writer-big-test", logger: createLogger("writer-big-test", "silent") });
    nc.subscribe(subjects.volume.written, { callback: (_e, msg) => void written.push(VolumeWritten.parse(decodeJson(msg.data))) });
    writer = spawnService("writer", { GENTLY_NATS_URL: nats.url, GENTLY_STORAGE: storage.dir, GENTLY_LOG_LEVEL: "info" });
    await writer.waitForLog((l) => l.includes('"msg":"started"'));
  });

  afterAll(async () => {
    await writer?.stop();
    await nc?.close();
    ring?.close();
    unlinkRing(ringPath);
    await nats?.stop();
    storage?.remove();
  });

  it("writes it end to end as BigTIFF: announced size and checksum match, first and last planes read back exactly", async () => {
    const producer = new FrameProducer(nc, ring);
    const begin = producer.acquisition({ num_slices: SLICES, width: WIDTH, height: HEIGHT });
    await producer.begin(begin);
    // Each slot is filled once with its own pattern, later frames reuse it (a camera writing slots
    // itself); which pattern a plane has follows from the slot its frame went through.
    const slotOfPlane: number[] = [];
    const filled = new Set<number>();
    for (let seq = 0; seq < SLICES; seq++) {
      const next = ring.numSlots > filled.size ? filled.size : undefined;
      const slot = await producer.frame(begin, seq, next !== undefined ? framePixels(PLANE_BYTES, next) : undefined);
      if (next !== undefined) {
        expect(slot).toBe(next);
        filled.add(slot);
      }
      slotOfPlane.push(slot);
    }
    producer.end(begin);

    const body = await waitFor(() => written.find((w) => w.uid === begin.volume_uid), 240_000, "volume.written");
    expect(body.bytes).toBeGreaterThan(2 ** 32);
    expect(body.shape).toEqual([SLICES, HEIGHT, WIDTH]);
    expect(existsSync(path.join(storage.dir, "volumes", `${begin.volume_uid}.tif`))).toBe(true);
    const ome = await readOmeMetadata(body.path);
    expect(ome.bigTiff).toBe(true);
    expect(ome.pixels).toMatchObject({ sizeZ: SLICES, sizeX: WIDTH, sizeY: HEIGHT });
    expect((await verifyChecksum(body.path, body.checksum as never)).ok).toBe(true);

    const tiff = await fromFile(body.path);
    try {
      for (const z of [0, 1, SLICES - 1]) {
        const [raster] = (await (await tiff.getImage(z)).readRasters()) as unknown as Uint16Array[];
        const plane = Buffer.from(raster.buffer, raster.byteOffset, raster.byteLength);
        expect(plane.equals(framePixels(PLANE_BYTES, slotOfPlane[z])), `plane ${z}`).toBe(true);
      }
    } finally {
      await tiff.close();
    }
  }, 600_000);
});
