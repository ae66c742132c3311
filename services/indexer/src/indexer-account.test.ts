import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NatsConnection } from "@nats-io/transport-node";
import { randomBytes } from "node:crypto";
import { call, connectBus, createLogger, ensureStream, jetStreamOf, passwordEnvironment, publishDurable, type Credentials } from "@gently/bus";
import { writeSampleVolume } from "@gently/datastore";
import { datastore, NATS_USERS, streams, subjects, VolumeWritten } from "@gently/protocol";
import { REPO_ROOT } from "@gently/supervisor";
import { spawnService, startTestNats, tempStorage, waitFor, type ServiceProcess, type TestNats } from "@gently/testing";

const logger = createLogger("indexer-account-test", "silent");

describe("indexer under its own NATS account (nats.conf)", () => {
  const storage = tempStorage("gently-indexer-account-");
  let nats: TestNats;
  let writer: NatsConnection;
  let copilot: NatsConnection;
  let indexer: ServiceProcess;

  beforeAll(async () => {
    // Letters first: nats.conf substitutes the variables unquoted, so a password must not look like a number.
    const creds = Object.fromEntries(NATS_USERS.map((u) => [u, `pw${randomBytes(18).toString("hex")}`])) as Credentials;
    // nats.conf reads each account's password from the server's environment.
    Object.assign(process.env, passwordEnvironment(creds));
    nats = await startTestNats({ configFile: path.join(REPO_ROOT, "nats.conf") });
    writer = await connectBus({ servers: nats.url, name: "writer", logger, user: "writer", pass: creds.writer });
    copilot = await connectBus({ servers: nats.url, name: "copilot", logger, user: "copilot", pass: creds.copilot });
    await ensureStream((await jetStreamOf(writer)).jsm, streams.data);
    indexer = spawnService("indexer", {
      GENTLY_NATS_URL: nats.url,
      GENTLY_STORAGE: storage.dir,
      GENTLY_NATS_USER: "indexer",
      GENTLY_NATS_PASSWORD: creds.indexer,
      GENTLY_LOG_LEVEL: "info",
    });
    await indexer.waitForLog((l) => l.includes('"msg":"started"'));
  });

  afterAll(async () => {
    await indexer?.stop();
    await writer?.close();
    await copilot?.close();
    await nats?.stop();
    storage.remove();
  });

  it("consumes the writer's announcement and answers the copilot", async () => {
    const volume = await writeSampleVolume(storage.dir, { session_id: "accounts" });
    await publishDurable((await jetStreamOf(writer)).js, subjects.volume.written, VolumeWritten, volume, volume.uid);
    const item = await waitFor(() => call(copilot, datastore.get, { uid: volume.uid }).catch(() => null), 20_000, "the volume indexed");
    expect(item).toMatchObject({ uid: volume.uid, session_id: "accounts", bytes: volume.bytes });
    expect((await call(copilot, datastore.sessions, {})).sessions.map((s) => s.session_id)).toEqual(["accounts"]);
  });
});
