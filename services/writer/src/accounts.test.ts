import path from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectBus, createLogger, decodeJson, ensureCredentials, passwordEnvironment, type Credentials } from "@gently/bus";
import { subjects, VolumeWritten } from "@gently/protocol";
import { createRing, unlinkRing, type Ring } from "@gently/ring";
import { REPO_ROOT } from "@gently/supervisor";
import { spawnService, startTestNats, tempStorage, waitFor, type ServiceProcess, type TestNats } from "@gently/testing";
import { FrameProducer, framePixels } from "../test/frame-producer";

const logger = createLogger("writer-accounts-test", "silent");
const PLANE_BYTES = 256 * 128 * 2;

describe("writer under the least-privilege accounts of nats.conf", () => {
  let passwords: Credentials;
  let nats: TestNats;
  let storage: ReturnType<typeof tempStorage>;
  let writer: ServiceProcess;
  let hardware: NatsConnection;
  let copilot: NatsConnection;
  let ring: Ring;
  const ringPath = `/dev/shm/gently-writer-accounts-test-${process.pid}`;

  beforeAll(async () => {
    storage = tempStorage();
    // The passwords `npm start` generates, handed to nats-server the same way.
    passwords = ensureCredentials(storage.dir);
    nats = await startTestNats({ configFile: path.join(REPO_ROOT, "nats.conf"), env: passwordEnvironment(passwords) });
    ring = createRing(ringPath, { slotBytes: PLANE_BYTES, numSlots: 2 });
    writer = spawnService("writer", {
      GENTLY_NATS_URL: nats.url,
      GENTLY_STORAGE: storage.dir,
      GENTLY_NATS_USER: "writer",
      GENTLY_NATS_PASSWORD: passwords.writer,
    });
    await writer.waitForLog((l) => l.includes('"msg":"started"'));
    hardware = await connectBus({ servers: nats.url, name: "hardware", logger, user: "hardware", pass: passwords.hardware });
    copilot = await connectBus({ servers: nats.url, name: "copilot", logger, user: "copilot", pass: passwords.copilot });
  });

  afterAll(async () => {
    expect(await writer?.stop()).toBe(0);
    await hardware?.close();
    await copilot?.close();
    ring?.close();
    unlinkRing(ringPath);
    await nats?.stop();
    storage?.remove();
  });

  it("takes an acquisition from the hardware account and announces it to the copilot's", async () => {
    const seen: VolumeWritten[] = [];
    copilot.subscribe(subjects.volume.written, { callback: (_e, msg) => void seen.push(VolumeWritten.parse(decodeJson(msg.data))) });
    await copilot.flush();
    const producer = new FrameProducer(hardware, ring);
    const begin = producer.acquisition({ num_slices: 3 });
    await producer.begin(begin);
    for (let seq = 0; seq < 3; seq++) await producer.frame(begin, seq, framePixels(PLANE_BYTES, seq));
    producer.end(begin);
    const written = await waitFor(() => seen.find((w) => w.uid === begin.volume_uid), 20_000, "volume.written seen by the copilot");
    expect(written.shape).toEqual([3, 128, 256]);
    expect(writer.lines.filter((l) => /Permissions Violation/i.test(l))).toEqual([]);
  });
});
