import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NatsConnection } from "@nats-io/transport-node";
import { call, ensureStream, jetStreamOf, publishDurable } from "@gently/bus";
import { writeSampleVolume } from "@gently/datastore";
import { datastore, streams, subjects, VolumeWritten } from "@gently/protocol";
import { spawnService, startAccountNats, waitFor, type AccountNats, type ServiceProcess } from "@gently/testing";

describe("indexer under its own NATS account (nats.conf)", () => {
  let accounts: AccountNats;
  let writer: NatsConnection;
  let copilot: NatsConnection;
  let indexer: ServiceProcess;

  beforeAll(async () => {
    accounts = await startAccountNats("gently-indexer-account-");
    writer = await accounts.connectAs("writer");
    copilot = await accounts.connectAs("copilot");
    await ensureStream((await jetStreamOf(writer)).jsm, streams.data);
    indexer = spawnService("indexer", { ...accounts.serviceEnv("indexer"), GENTLY_LOG_LEVEL: "info" });
    await indexer.waitForLog((l) => l.includes('"msg":"started"'));
  });

  afterAll(async () => {
    await indexer?.stop();
    await accounts?.stop();
  });

  it("consumes the writer's announcement and answers the copilot", async () => {
    const volume = await writeSampleVolume(accounts.storage, { session_id: "accounts" });
    await publishDurable((await jetStreamOf(writer)).js, subjects.volume.written, VolumeWritten, volume, volume.uid);
    const item = await waitFor(() => call(copilot, datastore.get, { uid: volume.uid }).catch(() => null), 20_000, "the volume indexed");
    expect(item).toMatchObject({ uid: volume.uid, session_id: "accounts", bytes: volume.bytes });
    expect((await call(copilot, datastore.sessions, {})).sessions.map((s) => s.session_id)).toEqual(["accounts"]);
  });
});
