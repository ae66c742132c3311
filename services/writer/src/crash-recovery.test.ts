import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectBus, createLogger, decodeJson, jetStreamOf } from "@gently/bus";
import { streams, subjects, VolumeFailed } from "@gently/protocol";
import { createRing, unlinkRing, type Ring } from "@gently/ring";
import { spawnService, startTestNats, tempStorage, waitFor, type ServiceProcess, type TestNats } from "@gently/testing";
import { FrameProducer, framePixels } from "../test/frame-producer";
import { RESTARTED_REASON } from "./leftovers";

const logger = createLogger("writer-crash-test", "silent");
const PLANE_BYTES = 256 * 128 * 2;

describe("writer killed mid-volume", () => {
  let nats: TestNats;
  let storage: ReturnType<typeof tempStorage>;
  let nc: NatsConnection;
  let ring: Ring;
  const ringPath = `/dev/shm/gently-writer-crash-test-${process.pid}`;
  const processes: ServiceProcess[] = [];
  const seen: { subject: string; body: Record<string, unknown> }[] = [];

  const startWriter = async () => {
    const writer = spawnService("writer", { GENTLY_NATS_URL: nats.url, GENTLY_STORAGE: storage.dir, GENTLY_WRITER_STOP_GRACE_MS: "500" });
    processes.push(writer);
    await writer.waitForLog((l) => l.includes('"msg":"started"'));
    return writer;
  };

  beforeAll(async () => {
    nats = await startTestNats();
    storage = tempStorage();
    ring = createRing(ringPath, { slotBytes: PLANE_BYTES, numSlots: 4 });
    nc = await connectBus({ servers: nats.url, name: "writer-crash-test", logger });
    nc.subscribe(subjects.volume.all, {
      callback: (_err, msg) => void seen.push({ subject: msg.subject, body: decodeJson(msg.data) as Record<string, unknown> }),
    });
  });

  afterAll(async () => {
    for (const p of processes) await p.kill();
    await nc?.close();
    ring?.close();
    unlinkRing(ringPath);
    await nats?.stop();
    storage?.remove();
  });

  it("announces no volume.written; after a restart the partial file is quarantined and the volume announced failed", async () => {
    const volumesDir = path.join(storage.dir, "volumes");
    const writer = await startWriter();
    const producer = new FrameProducer(nc, ring);
    const begin = producer.acquisition({ num_slices: 20 });
    await producer.begin(begin);
    for (let seq = 0; seq < 6; seq++) await producer.frame(begin, seq, framePixels(PLANE_BYTES, seq));
    // Kill once the writer has taken every frame out of the ring (small planes may still be staged in memory).
    await waitFor(() => ring.stats().free === 4, 10_000, "frames copied out of the ring");
    const partial = readdirSync(volumesDir).find((n) => n.includes(begin.volume_uid) && n.endsWith(".partial"));
    expect(partial).toBeDefined();
    await writer.kill();

    const finalPath = path.join(volumesDir, `${begin.volume_uid}.tif`);
    expect(existsSync(finalPath)).toBe(false);
    expect(existsSync(path.join(volumesDir, partial!))).toBe(true);

    const restarted = await startWriter();
    const failedEvent = await waitFor(
      () => seen.find((e) => e.subject === subjects.volume.failed && e.body.uid === begin.volume_uid),
      20_000,
      "volume.failed after restart",
    );
    const failed = VolumeFailed.parse(failedEvent.body);
    // Who it belonged to comes from the metadata the sink put on disk at open.
    expect(failed).toMatchObject({ reason: RESTARTED_REASON, session_id: "writer-test", run_uid: begin.run_uid });
    expect(failed.quarantined_path).toBe(path.join(volumesDir, "quarantine", `${begin.volume_uid}.tif.partial`));
    expect(statSync(failed.quarantined_path!).size).toBeGreaterThan(0);
    expect(existsSync(finalPath)).toBe(false);
    expect(readdirSync(volumesDir).filter((n) => n.endsWith(".partial"))).toEqual([]);

    // The stream (what the indexer and plan-runner consume) holds no volume.written at all.
    const { jsm } = await jetStreamOf(nc);
    const info = await jsm.streams.info(streams.data.name, { subjects_filter: ">" });
    expect(info.state.subjects).toEqual({ [subjects.volume.failed]: 1 });
    // One writer per storage root: the next test starts its own.
    expect(await restarted.stop()).toBe(0);
  });

  it("on SIGTERM mid-volume exits cleanly after failing the volume, partial file quarantined", async () => {
    const volumesDir = path.join(storage.dir, "volumes");
    const writer = await startWriter();
    const producer = new FrameProducer(nc, ring);
    const begin = producer.acquisition({ num_slices: 10 });
    await producer.begin(begin);
    for (let seq = 0; seq < 2; seq++) await producer.frame(begin, seq, framePixels(PLANE_BYTES, seq));
    expect(await writer.stop()).toBe(0);
    const failed = VolumeFailed.parse(
      (await waitFor(() => seen.find((e) => e.subject === subjects.volume.failed && e.body.uid === begin.volume_uid), 5_000, "volume.failed")).body,
    );
    expect(failed).toMatchObject({ code: "unavailable", reason: "writer stopped before the volume ended" });
    expect(existsSync(failed.quarantined_path!)).toBe(true);
    expect(existsSync(path.join(volumesDir, `${begin.volume_uid}.tif`))).toBe(false);
    expect(readdirSync(volumesDir).filter((n) => n.endsWith(".partial"))).toEqual([]);
  });
});
