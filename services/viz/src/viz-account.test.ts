import { randomBytes } from "node:crypto";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NatsConnection } from "@nats-io/transport-node";
import { Svcm, type ServiceInfo } from "@nats-io/services";
import { connectBus, createLogger, ensureStream, jetStreamOf, passwordEnvironment, type Credentials } from "@gently/bus";
import { microServiceName, NATS_USERS, streams, subjects } from "@gently/protocol";
import { freePort, REPO_ROOT } from "@gently/supervisor";
import { spawnService, startTestNats, tempStorage, waitFor, type ServiceProcess, type TestNats } from "@gently/testing";
import { announceVolume, writeTestVolume } from "./test-volumes";

const logger = createLogger("viz-account-test", "silent");

describe("viz under its own NATS account (nats.conf)", () => {
  const storage = tempStorage("gently-viz-account-");
  let nats: TestNats;
  let writer: NatsConnection;
  let copilot: NatsConnection;
  let viz: ServiceProcess;
  let indexer: ServiceProcess;
  let base: string;

  beforeAll(async () => {
    // Letters first: nats.conf substitutes the variables unquoted, so a password must not look like a number.
    const creds = Object.fromEntries(NATS_USERS.map((u) => [u, `pw${randomBytes(18).toString("hex")}`])) as Credentials;
    Object.assign(process.env, passwordEnvironment(creds));
    nats = await startTestNats({ configFile: path.join(REPO_ROOT, "nats.conf") });
    writer = await connectBus({ servers: nats.url, name: "writer", logger, user: "writer", pass: creds.writer });
    copilot = await connectBus({ servers: nats.url, name: "copilot", logger, user: "copilot", pass: creds.copilot });
    const { jsm } = await jetStreamOf(writer);
    await ensureStream(jsm, streams.data);
    await ensureStream(jsm, streams.runs);
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const env = { GENTLY_NATS_URL: nats.url, GENTLY_STORAGE: storage.dir, GENTLY_HTTP_PORT: String(port), GENTLY_LOG_LEVEL: "info" };
    indexer = spawnService("indexer", { ...env, GENTLY_NATS_USER: "indexer", GENTLY_NATS_PASSWORD: creds.indexer });
    viz = spawnService("viz", { ...env, GENTLY_NATS_USER: "viz", GENTLY_NATS_PASSWORD: creds.viz });
    await viz.waitForLog((l) => l.includes('"msg":"started"'));
    await indexer.waitForLog((l) => l.includes('"msg":"started"'));
  });

  afterAll(async () => {
    await viz?.stop();
    await indexer?.stop();
    await writer?.close();
    await copilot?.close();
    await nats?.stop();
    storage.remove();
  });

  it("follows the streams, asks the DataStore, announces a MIP and is listed over $SRV, with no permission error", async () => {
    const events = await fetch(`${base}/api/events`);
    const reader = events.body!.getReader();
    const volume = await writeTestVolume(storage.dir, { size_x: 32, size_y: 16, size_z: 3, plane: (_c, z) => new Uint16Array(32 * 16).fill(10 * z) });
    await announceVolume((await jetStreamOf(writer)).js, volume);
    let text = "";
    while (!text.includes(volume.uid)) text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();

    const listed = await waitFor(async () => {
      const body = (await (await fetch(`${base}/api/volumes`)).json()) as { items?: { uid: string }[] };
      return body.items?.some((i) => i.uid === volume.uid);
    }, 20_000, "the volume listed through the DataStore");
    expect(listed).toBe(true);

    const mip = await fetch(`${base}/api/images/${volume.uid}/mip.png`);
    expect(mip.status).toBe(200);
    const { jsm } = await jetStreamOf(writer);
    const announced = await jsm.streams.getMessage(streams.data.name, { last_by_subj: subjects.derived.written });
    expect(announced?.json<{ parent_uid: string }>().parent_uid).toBe(volume.uid);

    const infos: ServiceInfo[] = [];
    for await (const info of await new Svcm(copilot).client().info(microServiceName("viz"))) infos.push(info);
    expect(infos[0]?.endpoints.map((e) => e.subject)).toEqual([subjects.viz.status]);
    expect(viz.lines.filter((l) => /permission/i.test(l))).toEqual([]);
  });
});
