import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NatsConnection } from "@nats-io/transport-node";
import { Svcm, type ServiceInfo } from "@nats-io/services";
import { call, ensureStream, jetStreamOf } from "@gently/bus";
import { writeSampleVolume } from "@gently/datastore";
import { microServiceName, streams, subjects, viz as vizContract } from "@gently/protocol";
import { freePort } from "@gently/supervisor";
import { spawnService, startAccountNats, waitFor, type AccountNats, type ServiceProcess } from "@gently/testing";
import { announceVolume } from "./announce-volume";

describe("viz under its own NATS account (nats.conf)", () => {
  let accounts: AccountNats;
  let writer: NatsConnection;
  let copilot: NatsConnection;
  let viz: ServiceProcess;
  let indexer: ServiceProcess;
  let base: string;

  beforeAll(async () => {
    accounts = await startAccountNats("gently-viz-account-");
    writer = await accounts.connectAs("writer");
    copilot = await accounts.connectAs("copilot");
    // each stream as its owner creates it: GENTLY_DATA the writer, GENTLY_RUNS the plan runner
    await ensureStream((await jetStreamOf(writer)).jsm, streams.data, { owner: true });
    await ensureStream((await jetStreamOf(await accounts.connectAs("plan-runner"))).jsm, streams.runs, { owner: true });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const env = { GENTLY_HTTP_PORT: String(port), GENTLY_LOG_LEVEL: "info" };
    indexer = spawnService("indexer", { ...accounts.serviceEnv("indexer"), ...env });
    viz = spawnService("viz", { ...accounts.serviceEnv("viz"), ...env });
    await viz.waitForLog((l) => l.includes('"msg":"started"'));
    await indexer.waitForLog((l) => l.includes('"msg":"started"'));
  });

  afterAll(async () => {
    await viz?.stop();
    await indexer?.stop();
    await accounts?.stop();
  });

  it("follows the streams, asks the DataStore, announces a MIP and is listed over $SRV, with no permission error", async () => {
    const events = await fetch(`${base}/api/events`);
    const reader = events.body!.getReader();
    const volume = await writeSampleVolume(accounts.storage, { size_x: 32, size_y: 16, size_z: 3, plane: (_c, z) => new Uint16Array(32 * 16).fill(10 * z) });
    await announceVolume((await jetStreamOf(writer)).js, volume);
    let text = "";
    while (!text.includes(volume.uid)) text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();

    const listed = await waitFor(async () => {
      const body = (await (await fetch(`${base}/api/volumes`)).json()) as { items?: { uid: string }[] };
      return body.items?.some((i) => i.uid === volume.uid);
    }, 20_000, "the volume listed through the DataStore");
    expect(listed).toBe(true);

    const mipAnnouncements: { parent_uid?: string }[] = [];
    copilot.subscribe(subjects.derived.written, { callback: (_err, m) => void mipAnnouncements.push(m.json()) });
    await copilot.flush();
    const mip = await fetch(`${base}/api/images/${volume.uid}/mip.png`);
    expect(mip.status).toBe(200);
    // the MIP announcement as the copilot sees it: a core subscription, no JetStream API
    const announced = await waitFor(() => mipAnnouncements.find((a) => a.parent_uid === volume.uid), 10_000, "the MIP announced");
    expect(announced.parent_uid).toBe(volume.uid);

    const infos: ServiceInfo[] = [];
    for await (const info of await new Svcm(copilot).client().info(microServiceName("viz"))) infos.push(info);
    expect(infos[0]?.endpoints.map((e) => e.subject)).toEqual([subjects.viz.status]);
    // the copilot may ask where the page is
    expect(await call(copilot, vizContract.status, {})).toMatchObject({ http_port: Number(new URL(base).port) });
    expect(viz.lines.filter((l) => /permission/i.test(l))).toEqual([]);
  });
});
