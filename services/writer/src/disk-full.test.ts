import { execFileSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import path from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectBus, createLogger, decodeJson } from "@gently/bus";
import { subjects, VolumeFailed, VolumeWritten } from "@gently/protocol";
import { createRing, unlinkRing, type Ring } from "@gently/ring";
import { spawnService, startTestNats, tempStorage, waitFor, type ServiceProcess, type TestNats } from "@gently/testing";
import { FrameProducer, framePixels } from "../test/frame-producer";

const logger = createLogger("writer-disk-full-test", "silent");
const PLANE_BYTES = 256 * 128 * 2;
/** The writer may write no file larger than this (RLIMIT_FSIZE): writes past it fail with EFBIG, as on a full disk. */
const FILE_SIZE_LIMIT_BYTES = 2 << 20;

describe("writer when the disk fills mid-volume", () => {
  let nats: TestNats;
  let storage: ReturnType<typeof tempStorage>;
  let writer: ServiceProcess;
  let nc: NatsConnection;
  let ring: Ring;
  const ringPath = `/dev/shm/gently-writer-disk-full-test-${process.pid}`;
  const seen: { subject: string; body: Record<string, unknown> }[] = [];

  beforeAll(async () => {
    nats = await startTestNats();
    storage = tempStorage();
    ring = createRing(ringPath, { slotBytes: PLANE_BYTES, numSlots: 4 });
    nc = await connectBus({ servers: nats.url, name: "writer-disk-full-test", logger });
    nc.subscribe(subjects.volume.all, {
      callback: (_err, msg) => void seen.push({ subject: msg.subject, body: decodeJson(msg.data) as Record<string, unknown> }),
    });
    writer = spawnService("writer", { GENTLY_NATS_URL: nats.url, GENTLY_STORAGE: storage.dir });
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

  const outcome = (uid: string) => waitFor(() => seen.find((e) => e.body.uid === uid), 20_000, `outcome of ${uid}`);

  it("fails the volume with disk_full, keeps the partial file in quarantine, frees the ring and goes on writing", async () => {
    const producer = new FrameProducer(nc, ring);
    // 100 planes of 64 KiB: 6.5 MB, past the 2 MiB the writer may write.
    const big = producer.acquisition({ num_slices: 100 });
    await producer.begin(big);
    // Limited once the file is open: its OME-XML, written at its end at open, is already past the limit.
    execFileSync("prlimit", ["--pid", String(writer.child.pid), `--fsize=${FILE_SIZE_LIMIT_BYTES}:${FILE_SIZE_LIMIT_BYTES}`]);
    for (let seq = 0; seq < 100; seq++) await producer.frame(big, seq, framePixels(PLANE_BYTES, seq));
    producer.end(big);
    const event = await outcome(big.volume_uid);
    expect(event.subject).toBe(subjects.volume.failed);
    const failed = VolumeFailed.parse(event.body);
    expect(failed.code).toBe("disk_full");
    expect(failed.reason).toMatch(/EFBIG|too large/i);
    expect(existsSync(path.join(storage.dir, "volumes", `${big.volume_uid}.tif`))).toBe(false);
    // Only what was written before the limit occupies the disk (the partial is sparse up to its XML at the end).
    expect(statSync(failed.quarantined_path!).blocks * 512).toBeLessThanOrEqual(FILE_SIZE_LIMIT_BYTES + 64 * 1024);
    await waitFor(() => ring.stats().free === 4, 5_000, "every slot released");

    const small = producer.acquisition({ num_slices: 10 });
    await producer.begin(small);
    for (let seq = 0; seq < 10; seq++) await producer.frame(small, seq, framePixels(PLANE_BYTES, seq));
    producer.end(small);
    const next = await outcome(small.volume_uid);
    expect(next.subject).toBe(subjects.volume.written);
    expect(VolumeWritten.parse(next.body).shape).toEqual([10, 128, 256]);
  });
});
