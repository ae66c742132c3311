import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { request, type IncomingMessage } from "node:http";
import { networkInterfaces } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NatsConnection } from "@nats-io/transport-node";
import { chromium } from "playwright-core";
import { AckPolicy, DeliverPolicy, jetstreamManager } from "@nats-io/jetstream";
import { accountSecretPath, call, encodeJson, jetStreamOf, publishDurable } from "@gently/bus";
import { connect, type GentlyClient, type RunHandle } from "@gently/client";
import { writeSampleVolume } from "@gently/datastore";
import { datastore, hw, NATS_USERS, newUid, plan, streams, subjects, VolumeWritten, type NatsUser } from "@gently/protocol";
import { freePort, REPO_ROOT } from "@gently/supervisor";
import { spawnService, startTestSystem, tempStorage, waitFor, type ServiceProcess, type TestSystem } from "@gently/testing";

/**
 * The copilot is an AI agent: its NATS credentials are treated as held by
 * someone who sends whatever the server lets through. Every attack below went
 * through before (issue 13); each test asserts the refusal and that nothing
 * happened: the acquisition beside it completes, the indexer indexes every
 * volume, the lasers stay off.
 */

/** the plan runner's default queue limit: the suite runs with it */
const QUEUE_MAX = 100;
const SSE_MAX = 3;
/** small frames (over the simulated embryo) keep acquisitions of hundreds of slices fast */
const ROI = { x: 896, y: 960, width: 256, height: 128 };
const SERVICES = ["hardware", "writer", "plan-runner", "indexer", "viz"];
const CHROMIUM = "/usr/bin/chromium";
const sequenceParams = (num_slices: number) => ({ num_slices, exposure_ms: 2, piezo_center_um: 0, piezo_amplitude_um: 3, galvo_amplitude_deg: 0.03 });

/** A request the server must refuse as a permission violation (nothing reaches a service). */
async function expectRefused(nc: NatsConnection, subject: string, body: unknown = {}): Promise<void> {
  const outcome = await nc.request(subject, encodeJson(body), { timeout: 3_000 }).then(
    (reply) => `answered: ${new TextDecoder().decode(reply.data).slice(0, 200)}`,
    (err: Error) => String(err?.message ?? err),
  );
  expect(outcome, subject).toMatch(/Permissions Violation for Publish/);
}

interface SseClient {
  status: number;
  body: string;
  events: { event: string; data: any }[];
  close(): void;
}

/** An SSE (or any GET) request with a chosen Host header; the response's events are collected as they arrive. */
function openHttp(port: number, target: string, headers: Record<string, string> = {}): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: target, headers: { Host: `localhost:${port}`, ...headers } }, (res: IncomingMessage) => {
      const client: SseClient = { status: res.statusCode ?? 0, body: "", events: [], close: () => req.destroy() };
      let pending = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        client.body += chunk;
        pending += chunk;
        let end: number;
        while ((end = pending.indexOf("\n\n")) >= 0) {
          const block = pending.slice(0, end);
          pending = pending.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) client.events.push({ event, data: JSON.parse(data) });
        }
      });
      res.on("error", () => undefined);
      resolve(client);
    });
    req.on("error", reject);
    req.end();
  });
}

async function httpGet(port: number, target: string, headers: Record<string, string> = {}): Promise<SseClient> {
  const client = await openHttp(port, target, headers);
  await waitFor(() => client.body.length > 0 || client.status >= 300, 10_000, `an answer to ${target}`).catch(() => undefined);
  client.close();
  return client;
}

describe("the untrusted copilot (nats.conf, the whole system under the supervisor)", () => {
  let system: TestSystem;
  let copilot: NatsConnection;
  let client: GentlyClient;
  let planRunner: NatsConnection;
  let viz: NatsConnection;
  const runs: RunHandle[] = [];

  const laser = async () => (await call(planRunner, hw.state, {})).laser;
  const consumerCounts = async () => {
    const jsm = await jetstreamManager(viz);
    const [data, runsInfo] = await Promise.all([jsm.streams.info(streams.data.name), jsm.streams.info(streams.runs.name)]);
    return { data: data.state.consumer_count, runs: runsInfo.state.consumer_count };
  };

  beforeAll(async () => {
    system = await startTestSystem({
      services: SERVICES,
      env: { GENTLY_SSE_MAX: String(SSE_MAX) },
    });
    copilot = await system.connectAs("copilot");
    planRunner = await system.connectAs("plan-runner");
    viz = await system.connectAs("viz");
    // the client as the copilot host runs it: no account given, it reads the copilot's own secret file
    const previous = process.env.GENTLY_STORAGE;
    process.env.GENTLY_STORAGE = system.storage;
    try {
      client = await connect({ url: system.nats.url, storage: system.storage, reconnect: false });
    } finally {
      process.env.GENTLY_STORAGE = previous;
    }
    for (const camera of ["HamCam1", "HamCam2"] as const) await call(planRunner, hw.setCamera, { camera, roi: ROI });
  }, 120_000);

  afterAll(async () => {
    await client?.close();
    await system?.stop();
  });

  it("keeps one secret per account: the client's file holds the copilot's password alone, each service process only its own", async () => {
    const secrets = readdirSync(path.join(system.storage, "secrets")).sort();
    expect(secrets).toEqual(NATS_USERS.map((u) => `nats-${u}.password`).sort());
    expect(readFileSync(accountSecretPath(system.storage, "copilot"), "utf8").trim()).toBe(system.credentials.copilot);
    // what ops hands a copilot host: that account's login and nothing else
    const cli = (args: string[]) =>
      promisify(execFile)(process.execPath, [path.join(REPO_ROOT, "libs/cli/bin/gently.js"), ...args], { env: { ...process.env, GENTLY_STORAGE: system.storage } }).catch((e) => e);
    const line = await cli(["credentials", "--account", "copilot"]);
    expect(line.stdout).toBe(`GENTLY_NATS_USER=copilot\nGENTLY_NATS_PASSWORD=${system.credentials.copilot}\n`);
    const unknown = await cli(["credentials", "--account", "root"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("--account: 'root' is not an account of nats.conf");
    // the client connected as the copilot: it may ask the plan runner, never the hardware
    expect((await client.status()).state).toBeDefined();
    await expect(call(client.nc, hw.state, {})).rejects.toThrow(/Permissions Violation/);
    const others = (user: NatsUser) => NATS_USERS.filter((u) => u !== user).map((u) => system.credentials[u]);
    for (const service of SERVICES) {
      const user = service as NatsUser;
      const environ = readFileSync(`/proc/${system.pidOf(service)}/environ`, "utf8");
      expect(environ, service).toContain(`GENTLY_NATS_PASSWORD=${system.credentials[user]}`);
      for (const password of others(user)) expect(environ.includes(password), `${service} holds another account's password`).toBe(false);
    }
  });

  it("refuses the copilot every JetStream API (push consumers aimed at the hardware, stream admin) and reply subjects aimed at the hardware; the acquisition beside it completes", async () => {
    const run = await client.submit("acquire_volume", sequenceParams(200));
    runs.push(run);
    await waitFor(async () => (await client.status()).current?.phase === "acquiring", 20_000, "the acquisition to start");
    const push = { stream_name: streams.runs.name, config: { deliver_subject: subjects.hw.stopSequence, deliver_group: "gently-hardware", deliver_policy: "all", ack_policy: "none" } };
    await expectRefused(copilot, `$JS.API.CONSUMER.CREATE.${streams.runs.name}`, push);
    await expectRefused(copilot, `$JS.API.CONSUMER.CREATE.${streams.runs.name}.evil`, { ...push, config: { ...push.config, name: "evil" } });
    await expectRefused(copilot, `$JS.API.CONSUMER.DURABLE.CREATE.${streams.data.name}.evil`, { ...push, config: { ...push.config, durable_name: "evil", deliver_subject: subjects.hw.state } });
    await expectRefused(copilot, "$JS.API.INFO");
    await expectRefused(copilot, `$JS.API.STREAM.INFO.${streams.runs.name}`);
    // a requester names the reply subject: a service's answer must never land on the hardware's endpoints
    for (const subject of [subjects.plan.status, subjects.plan.queue, "$SRV.PING", `$SRV.INFO`]) {
      copilot.publish(subject, encodeJson({}), { reply: subjects.hw.stopSequence });
    }
    await copilot.flush();
    const result = await run.done();
    expect(result.status, result.reason).toBe("success");
    expect(result.volumes[0]!.shape[0]).toBe(200);
    expect(await laser()).toBe("ALL OFF");
    // nor may the copilot switch lasers by itself
    await expect(call(copilot, hw.setPreset, { group: "Laser", preset: "488 only" })).rejects.toThrow(/Permissions Violation/);
    expect(await laser()).toBe("ALL OFF");
  });

  it("refuses the copilot the indexer's consumer (delete, replace, pull, ack) and every stream; the indexer indexes every volume", async () => {
    const indexerConsumer = `${streams.data.name}.indexer`;
    await expectRefused(copilot, `$JS.API.CONSUMER.DELETE.${indexerConsumer}`);
    await expectRefused(copilot, `$JS.API.CONSUMER.CREATE.${indexerConsumer}`, { stream_name: streams.data.name, config: { durable_name: "indexer", deliver_policy: "new", ack_policy: "explicit" } });
    await expectRefused(copilot, `$JS.API.CONSUMER.MSG.NEXT.${indexerConsumer}`, { batch: 10 });
    await expectRefused(copilot, `$JS.ACK.${indexerConsumer}.1.1.1.1.0`);
    for (const verb of ["DELETE", "PURGE", "UPDATE"]) {
      for (const stream of [streams.data.name, streams.runs.name, "KV_gently_leases", "KV_gently_plan_queue"]) await expectRefused(copilot, `$JS.API.STREAM.${verb}.${stream}`);
    }
    // nor may it write the plan runner's stored queue (a run slipped in would start after a restart)
    await expectRefused(copilot, "$KV.gently_plan_queue.queued", []);
    // 1000 consumers in 0.7 s before: now not one
    const floods = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        copilot.request(`$JS.API.CONSUMER.CREATE.${streams.data.name}.flood${i}`, encodeJson({ stream_name: streams.data.name, config: { name: `flood${i}` } }), { timeout: 3_000 }).then(
          () => "created",
          (err: Error) => err.message,
        ),
      ),
    );
    expect(floods.every((f) => /Permissions Violation/.test(f))).toBe(true);
    const more = [await client.submit("acquire_volume", sequenceParams(5)), await client.submit("acquire_volume", sequenceParams(5))];
    runs.push(...more);
    for (const r of more) expect((await r.done()).status).toBe("success");
    const written = (await Promise.all(runs.map((r) => r.done()))).flatMap((r) => r.volume_uids);
    expect(written).toHaveLength(3);
    for (const uid of written) {
      const item = await waitFor(() => call(copilot, datastore.get, { uid }).catch(() => null), 20_000, `volume ${uid} indexed`);
      expect(item.uid).toBe(uid);
    }
  });

  it("replays a run to the copilot without JetStream: gently.plan.documents pages match what documents() yields, once each", async () => {
    const followed: string[] = [];
    for await (const d of client.run(runs[0]!.run_uid).documents()) followed.push(`${d.kind}:${d.doc.uid}`);
    const paged: string[] = [];
    for (let after_seq = 0, more = true; more; ) {
      const page = await call(copilot, plan.documents, { run_uid: runs[0]!.run_uid, after_seq, limit: 3 });
      expect(page.documents.length).toBeLessThanOrEqual(3);
      paged.push(...page.documents.map((d) => `${d.kind}:${String(d.doc.uid)}`));
      after_seq = page.documents.at(-1)?.seq ?? after_seq;
      more = page.more;
    }
    expect(followed[0]).toBe(`start:${runs[0]!.run_uid}`);
    expect(followed.at(-1)).toMatch(/^stop:/);
    expect(new Set(followed).size).toBe(followed.length);
    expect(paged).toEqual(followed);
    expect(await client.knowsRun(runs[0]!.run_uid)).toBe(true);
    expect(await client.knowsRun(newUid())).toBe(false);

    // a flood of replays holds at most 4 consumers at once and is answered (or refused) at once, never left to time out
    const before = (await consumerCounts()).runs;
    let most = before;
    let flooding = true;
    const sampler = (async () => {
      while (flooding) {
        most = Math.max(most, (await consumerCounts()).runs);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const answers = await Promise.all(
      Array.from({ length: 300 }, () =>
        call(copilot, plan.documents, { run_uid: runs[0]!.run_uid, limit: 1000 }, { timeoutMs: 20_000 }).then(
          () => "page",
          (e) => (e.code === "unavailable" && /replays: 64 requests are waiting/.test(e.message) ? "refused" : String(e)),
        ),
      ),
    );
    flooding = false;
    await sampler;
    expect(answers.filter((a) => a !== "page" && a !== "refused")).toEqual([]);
    expect(answers).toContain("page");
    expect(most).toBeLessThanOrEqual(before + 4);
    await waitFor(async () => (await consumerCounts()).runs === before, 10_000, "every replay's consumer deleted");
  });

  it("lets only data-writing accounts register, only data files, never a uid or file taken already; verify stays clean", async () => {
    const [volumeUid] = (await runs[0]!.done()).volume_uids;
    const real = await call(copilot, datastore.get, { uid: volumeUid! });
    await expect(call(copilot, datastore.register, { uid: newUid(), path: real.path!, data_type: "volume", bytes: real.bytes })).rejects.toThrow(/Permissions Violation/);
    const writer = await system.connectAs("writer");
    const secretFile = accountSecretPath(system.storage, "plan-runner");
    const secret = await call(writer, datastore.register, { uid: newUid(), path: secretFile, data_type: "analysis", bytes: readFileSync(secretFile).length }).catch((e) => e);
    expect(secret).toMatchObject({ code: "invalid_request", field: "path" });
    expect(secret.message).toContain("is not under volumes/ or derived/");
    const forgedUid = await call(writer, datastore.register, { uid: newUid(), path: real.path!, data_type: "volume", bytes: real.bytes }).catch((e) => e);
    expect(forgedUid).toMatchObject({ code: "conflict", field: "path" });
    const [otherUid] = (await runs[1]!.done()).volume_uids;
    const other = await call(copilot, datastore.get, { uid: otherUid! });
    const takeover = await call(writer, datastore.register, { uid: volumeUid!, path: other.path!, data_type: "volume", bytes: other.bytes }).catch((e) => e);
    expect(takeover).toMatchObject({ code: "conflict", field: "uid" });
    expect((await call(copilot, datastore.get, { uid: volumeUid! })).path).toBe(real.path);
    const verify = await promisify(execFile)(process.execPath, [path.join(REPO_ROOT, "libs/cli/bin/gently.js"), "datastore", "verify", "--json"], {
      env: { ...process.env, GENTLY_STORAGE: system.storage },
    }).catch((e) => e);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, not_data: [], unknown_files: [] });
  });

  it("refuses every service account stream deletion and purges, and updates of streams it does not own; only the indexer touches its consumer", async () => {
    const owners: Record<string, NatsUser> = { [streams.data.name]: "writer", [streams.runs.name]: "plan-runner", KV_gently_leases: "hardware", KV_gently_plan_queue: "plan-runner" };
    for (const user of ["hardware", "writer", "plan-runner", "indexer", "sam", "viz"] as const) {
      const nc = await system.connectAs(user);
      for (const stream of Object.keys(owners)) {
        await expectRefused(nc, `$JS.API.STREAM.DELETE.${stream}`);
        await expectRefused(nc, `$JS.API.STREAM.PURGE.${stream}`);
        if (owners[stream] !== user) await expectRefused(nc, `$JS.API.STREAM.UPDATE.${stream}`, { name: stream, subjects: ["gently.>"] });
      }
      await expectRefused(nc, "$JS.API.STREAM.CREATE.EVIL", { name: "EVIL", subjects: ["gently.hw.>"] });
      if (user !== "plan-runner") await expectRefused(nc, "$KV.gently_plan_queue.queued", []);
      if (user !== "indexer") {
        await expectRefused(nc, `$JS.API.CONSUMER.DELETE.${streams.data.name}.indexer`);
        await expectRefused(nc, `$JS.API.CONSUMER.CREATE.${streams.data.name}.indexer`, { stream_name: streams.data.name, config: { durable_name: "indexer", deliver_policy: "new" } });
      }
    }
    const { jsm } = await jetStreamOf(await system.connectAs("indexer"));
    expect((await jsm.streams.info(streams.data.name)).config.subjects).toEqual([...streams.data.subjects]);
    expect((await jsm.consumers.info(streams.data.name, "indexer")).config.deliver_policy).toBe("all");
  });

  it("with the viz's credentials (which may create consumers), a push consumer aimed at the hardware's stop endpoint changes nothing: the acquisition completes", async () => {
    const { jsm } = await jetStreamOf(viz);
    const run = await client.submit("acquire_volume", sequenceParams(200));
    await waitFor(async () => (await client.status()).current?.phase === "acquiring", 20_000, "the acquisition to start");
    // nats-server 2.9 cannot refuse the deliver subject; the hardware refuses what arrives without an inbox to answer
    const name = `push${newUid()}`;
    await jsm.consumers.add(streams.runs.name, { name, deliver_subject: subjects.hw.stopSequence, deliver_group: "gently-hardware", deliver_policy: DeliverPolicy.All, ack_policy: AckPolicy.None });
    try {
      const result = await run.done();
      expect(result.status, result.reason).toBe("success");
      expect(result.volumes[0]!.shape[0]).toBe(200);
      expect(system.supervisor.lines.some((l) => l.includes('"service":"hardware"') && l.includes("ignored a request without an inbox to answer"))).toBe(true);
    } finally {
      await jsm.consumers.delete(streams.runs.name, name);
    }
    expect(await laser()).toBe("ALL OFF");
  });

  it("with the indexer's own credentials, a consumer deleted or changed under the indexer is recreated (the process exits, is restarted, logs it) and every volume is still indexed", async () => {
    const { jsm } = await jetStreamOf(await system.connectAs("indexer"));
    const indexed = async (run: RunHandle) => {
      for (const uid of (await run.done()).volume_uids) await waitFor(() => call(copilot, datastore.get, { uid }).catch(() => null), 30_000, `volume ${uid} indexed`);
    };
    const restartedAfter = (pid: number, what: string) =>
      waitFor(() => {
        const now = system.pidOf("indexer");
        return now !== pid && system.supervisor.lines.some((l) => l.includes('"msg":"started"') && l.includes('"service":"indexer"') && JSON.parse(l).pid === now);
      }, 30_000, what);

    const first = system.pidOf("indexer");
    await jsm.consumers.delete(streams.data.name, "indexer");
    const meanwhile = await client.submit("acquire_volume", sequenceParams(3));
    await restartedAfter(first, "the indexer restarted after its consumer vanished");
    await indexed(meanwhile);

    const second = system.pidOf("indexer");
    // an untouched consumer is never taken for a changed one
    expect(system.supervisor.lines.filter((l) => l.includes("durable consumer was changed by someone else"))).toEqual([]);
    // even the indexer cannot narrow its filter (the create subject names it); a redelivery limit would lose volumes that failed once
    await jsm.consumers.update(streams.data.name, "indexer", { max_deliver: 1 });
    await waitFor(() => system.supervisor.lines.some((l) => l.includes("durable consumer was changed by someone else")), 15_000, "the change logged");
    await restartedAfter(second, "the indexer restarted after its consumer changed");
    expect((await jsm.consumers.info(streams.data.name, "indexer")).config.max_deliver).toBe(-1);
    await indexed(await client.submit("acquire_volume", sequenceParams(3)));

    // replaced by one whose deliver policy cannot be updated: it used to crash-loop on that
    const third = system.pidOf("indexer");
    await jsm.consumers.delete(streams.data.name, "indexer");
    await jsm.consumers.add(streams.data.name, { durable_name: "indexer", deliver_policy: DeliverPolicy.New, ack_policy: AckPolicy.Explicit });
    await restartedAfter(third, "the indexer restarted after its consumer was replaced");
    await waitFor(() => system.supervisor.lines.some((l) => l.includes("cannot be updated; recreating it")), 15_000, "the recreation logged");
    expect((await jsm.consumers.info(streams.data.name, "indexer")).config.deliver_policy).toBe(DeliverPolicy.All);
    await indexed(await client.submit("acquire_volume", sequenceParams(3)));
  });

  it("shows pages no forged announcement: a volume.written naming /etc/passwd is refused by the indexer and never reaches the viewer", async () => {
    const page = await openHttp(system.httpPort, "/api/events");
    expect(page.status).toBe(200);
    await waitFor(() => page.events.some((e) => e.event === "ready"), 10_000, "ready event");
    const writer = await system.connectAs("writer");
    const { js } = await jetStreamOf(writer);
    const elsewhere = tempStorage("gently-forged-");
    const sample = await writeSampleVolume(elsewhere.dir);
    elsewhere.remove();
    const forged = { ...sample, uid: newUid(), path: "/etc/passwd", bytes: readFileSync("/etc/passwd").length };
    await publishDurable(js, subjects.volume.written, VolumeWritten, forged, forged.uid);
    const genuine = await client.submit("acquire_volume", sequenceParams(3));
    const [genuineUid] = (await genuine.done()).volume_uids;
    await waitFor(() => page.events.some((e) => e.event === "volume.written" && e.data.body.uid === genuineUid), 10_000, "the genuine volume on the page");
    page.close();
    expect(page.events.filter((e) => e.data?.body?.uid === forged.uid)).toEqual([]);
    expect(await call(copilot, datastore.get, { uid: forged.uid }).catch((e) => e.code)).toBe("not_found");
  });

  it("caps the queue (queue_full naming the limit) and an abort of everything queued ends every run with its stop document, lasers off", async () => {
    const running = await client.submit("acquire_volume", { ...sequenceParams(2000), exposure_ms: 5 });
    await waitFor(async () => (await client.status()).current?.run_uid === running.run_uid, 20_000, "the long run to start");
    const queued = [];
    for (let i = 0; i < QUEUE_MAX; i++) queued.push(await client.submit("acquire_volume", sequenceParams(3)));
    const full = await client.submit("acquire_volume", sequenceParams(3)).catch((e) => e);
    expect(full).toMatchObject({ code: "queue_full", field: "plan" });
    expect(full.message).toContain(`the limit is ${QUEUE_MAX} (GENTLY_PLAN_QUEUE_MAX)`);
    await Promise.all([...queued, running].map((r) => client.abort(r.run_uid, "abort everything")));
    for (const r of [running, ...queued]) {
      const result = await r.done();
      expect(result.status).toBe("abort");
      expect(result.stop.exit_status).toBe("abort");
    }
    expect((await client.queue()).queued).toEqual([]);
    expect(await laser()).toBe("ALL OFF");

    // read-only plans run at once beside the queue, at most 16 together: a flood is refused, never piled up
    const flood = await Promise.all(
      Array.from({ length: 300 }, () =>
        client.submit("get_position", {}).then(
          (r) => r.done().then((d) => d.status),
          (e) => (e.code === "queue_full" && e.message.includes("the limit is 16 (GENTLY_PLAN_READERS_MAX)") ? "refused" : String(e)),
        ),
      ),
    );
    expect(flood.filter((f) => f !== "success" && f !== "refused")).toEqual([]);
    expect(flood).toContain("refused");
  });

  it("serves the viewer on 127.0.0.1 only, checks the Host header, caps SSE with a 503 and releases each page's consumers when it goes", async () => {
    const exposed = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === "IPv4" && !a.internal);
    if (exposed) {
      const reached = await fetch(`http://${exposed.address}:${system.httpPort}/healthz`).then(
        () => "connected",
        (err) => String(err.cause?.code ?? err),
      );
      expect(reached).toBe("ECONNREFUSED");
    }
    const rebound = await httpGet(system.httpPort, "/api/volumes", { Host: `attacker.example:${system.httpPort}` });
    expect(rebound.status).toBe(403);
    expect(JSON.parse(rebound.body).error).toMatchObject({ code: "forbidden", field: "host" });

    const before = await consumerCounts();
    const pages = await Promise.all(Array.from({ length: SSE_MAX }, () => openHttp(system.httpPort, "/api/events")));
    for (const p of pages) await waitFor(() => p.events.some((e) => e.event === "ready"), 10_000, "ready event");
    await waitFor(async () => (await consumerCounts()).data === before.data + SSE_MAX, 10_000, "a consumer per page");
    const refused = await httpGet(system.httpPort, "/api/events");
    expect(refused.status).toBe(503);
    expect(JSON.parse(refused.body).error.message).toBe(`SSE streams (GENTLY_SSE_MAX): ${SSE_MAX} open, the limit is ${SSE_MAX}; close one or try later`);
    for (const p of pages) p.close();
    await waitFor(async () => {
      const now = await consumerCounts();
      return now.data === before.data && now.runs === before.runs;
    }, 10_000, "every page's consumers released");
    // pages that come and go leave nothing behind (3000 cycles once left 4977 consumers)
    for (let cycle = 0; cycle < 60; cycle++) {
      const p = await openHttp(system.httpPort, "/api/events");
      await waitFor(() => p.events.some((e) => e.event === "ready"), 10_000, "ready event");
      p.close();
    }
    await waitFor(async () => {
      const now = await consumerCounts();
      return now.data === before.data && now.runs === before.runs;
    }, 10_000, "the consumers of 60 page visits released");
    for (let i = 0; i < 20; i++) expect((await httpGet(system.httpPort, `/api/runs/${runs[0]!.run_uid}`)).status).toBe(200);
    await waitFor(async () => (await consumerCounts()).runs === before.runs, 10_000, "the consumers of 20 run replays released");
  });

  it("bound beyond loopback, requires the token that `gently viewer` prints as a ready URL (then a cookie)", async () => {
    const port = await freePort();
    const env = { ...system.env, GENTLY_NATS_USER: "viz", GENTLY_NATS_PASSWORD: system.credentials.viz, GENTLY_HTTP_HOST: "0.0.0.0", GENTLY_HTTP_PORT: String(port) };
    const exposedViz: ServiceProcess = spawnService("viz", env);
    try {
      const listening = JSON.parse(await exposedViz.waitForLog((l) => l.includes("viz HTTP server listening"), 45_000));
      const printed = await promisify(execFile)(process.execPath, [path.join(REPO_ROOT, "libs/cli/bin/gently.js"), "viewer"], { env: { ...process.env, ...env } });
      const url = new URL(printed.stdout.trim());
      const token = url.searchParams.get("token");
      expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect(listening.url).toBe(printed.stdout.trim());
      const without = await httpGet(port, "/api/volumes");
      expect(without.status).toBe(401);
      expect(JSON.parse(without.body).error).toMatchObject({ code: "unauthorized", field: "token" });
      expect((await httpGet(port, "/api/volumes?token=not-the-token-at-all")).status).toBe(401);
      const page = await fetch(`http://127.0.0.1:${port}/?token=${token}`);
      expect(page.status).toBe(200);
      const cookie = page.headers.get("set-cookie")!.split(";")[0]!;
      expect((await httpGet(port, "/api/volumes", { Cookie: cookie })).status).toBe(200);
      if (existsSync(CHROMIUM)) {
        // the page opened once by its ready URL keeps working: its own requests and its event stream carry the cookie
        const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"] });
        try {
          const tab = await browser.newPage();
          expect((await tab.goto(`http://127.0.0.1:${port}/?token=${token}`))!.status()).toBe(200);
          const seen = await tab.evaluate(async () => {
            const g = globalThis as any;
            const volumes = (await g.fetch("/api/volumes")).status;
            const ready = await new Promise<string>((resolve) => {
              const events = new g.EventSource("/api/events");
              events.addEventListener("ready", () => (events.close(), resolve("ready")));
              events.onerror = () => (events.close(), resolve("error"));
            });
            return { volumes, ready };
          });
          expect(seen).toEqual({ volumes: 200, ready: "ready" });
          expect((await (await browser.newPage()).goto(`http://127.0.0.1:${port}/api/volumes`))!.status()).toBe(401);
        } finally {
          await browser.close();
        }
      }
    } finally {
      await exposedViz.stop();
    }
    // a bind address that cannot work stops the viewer for good (no restart loop), naming variable and value
    const badHost = spawnService("viz", { ...env, GENTLY_HTTP_HOST: "not a host" });
    expect((await badHost.exited).code).toBe(78);
    expect(badHost.lines.join("\n")).toContain("GENTLY_HTTP_HOST must be an IP address or a host name, got 'not a host'");
  });
});
