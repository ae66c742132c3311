import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NatsConnection } from "@nats-io/transport-node";
import { call, connectBus, createLogger, decodeJson, encodeJson, ensureStream, jetStreamOf, publishDurable } from "@gently/bus";
import { DataStore, writeSampleVolume } from "@gently/datastore";
import { writeDerivedItem } from "@gently/derived";
import {
  datastore,
  DerivedWritten,
  GentlyError,
  newUid,
  streams,
  subjects,
  VolumeFailed,
  VolumeWritten,
} from "@gently/protocol";
import { spawnService, startTestNats, tempStorage, waitFor, type ServiceProcess, type TestNats } from "@gently/testing";
import { INDEXER_DURABLE } from "./indexer";

const logger = createLogger("indexer-test", "silent");

describe("indexer service", () => {
  let nats: TestNats;
  let nc: NatsConnection;
  let indexer: ServiceProcess;
  const storage = tempStorage("gently-indexer-");
  const env = () => ({ GENTLY_NATS_URL: nats.url, GENTLY_STORAGE: storage.dir, GENTLY_LOG_LEVEL: "info" });

  async function startIndexer(): Promise<ServiceProcess> {
    const p = spawnService("indexer", env());
    await p.waitForLog((l) => l.includes('"msg":"started"'));
    return p;
  }

  /** What the writer does after a volume is in place: announce it durably, deduplicated by uid. */
  async function announce(body: VolumeWritten): Promise<void> {
    const { js } = await jetStreamOf(nc);
    await publishDurable(js, subjects.volume.written, VolumeWritten, body, body.uid);
  }

  beforeAll(async () => {
    nats = await startTestNats();
    nc = await connectBus({ servers: nats.url, name: "indexer-test", logger });
    await ensureStream((await jetStreamOf(nc)).jsm, streams.data);
    indexer = await startIndexer();
  });

  afterAll(async () => {
    await indexer?.stop();
    await nc?.close();
    await nats?.stop();
    storage.remove();
  });

  it("indexes every one of 20 volumes announced around a kill -9, each exactly once", async () => {
    const session = "killed-mid-stream";
    const bodies: VolumeWritten[] = [];
    for (let i = 0; i < 20; i++) {
      const body = await writeSampleVolume(storage.dir, { session_id: session });
      bodies.push(body);
      await announce(body);
      if (i === 7) await indexer.kill(); // SIGKILL with announcements in flight; the rest arrive while it is down
    }
    expect(indexer.child.signalCode).toBe("SIGKILL");
    indexer = await startIndexer();

    const items = await waitFor(async () => {
      const { items } = await call(nc, datastore.list, { session_id: session, limit: 100 });
      return items.length >= 20 ? items : null;
    }, 30_000, "20 indexed volumes");
    expect(items.map((i) => i.uid).sort()).toEqual(bodies.map((b) => b.uid).sort());
    // The session row is summed in the same transaction as each item: a volume applied twice would count twice.
    const { sessions } = await call(nc, datastore.sessions, {});
    expect(sessions.find((s) => s.session_id === session)).toMatchObject({
      items: 20,
      bytes: bodies.reduce((n, b) => n + b.bytes, 0),
      by_type: { volume: 20 },
    });
    // Everything was acked: nothing left to redeliver.
    const { jsm } = await jetStreamOf(nc);
    await waitFor(async () => {
      const info = await jsm.consumers.info(streams.data.name, INDEXER_DURABLE);
      return info.num_pending === 0 && info.num_ack_pending === 0;
    }, 10_000, "all messages acked");
  });

  it("serves get, lineage and children for a volume and the detection derived from it", async () => {
    const volume = await writeSampleVolume(storage.dir, { session_id: "lineage" });
    await announce(volume);
    const detection = await writeDerivedItem(
      storage.dir,
      { uid: newUid(), ext: "json", data_type: "detection", parent_uid: volume.uid, session_id: "lineage", metadata: { embryos: 1 } },
      Buffer.from('{"embryos":[{"x_um":5}]}'),
    );
    const { js } = await jetStreamOf(nc);
    await publishDurable(js, subjects.derived.written, DerivedWritten, detection, detection.uid);

    const lineage = await waitFor(async () => {
      const l = await call(nc, datastore.lineage, { uid: detection.uid }).catch(() => null);
      return l && l.items.length === 2 ? l : null;
    }, 15_000, "lineage of the detection");
    expect(lineage.items.map((i) => i.uid)).toEqual([volume.uid, detection.uid]);
    expect(lineage.cycle).toBe(false);
    expect((await call(nc, datastore.children, { uid: volume.uid })).items.map((i) => i.uid)).toEqual([detection.uid]);
    expect(await call(nc, datastore.get, { uid: volume.uid })).toMatchObject({ uid: volume.uid, path: volume.path, checksum: volume.checksum, data_type: "volume" });
  });

  it("answers bad input and unknown uids with structured errors", async () => {
    const reply = await nc.request(datastore.get.subject, encodeJson({ uid: "../../etc/passwd" }));
    const body = decodeJson(reply.data) as { error: { code: string; field: string } };
    expect(body.error).toMatchObject({ code: "invalid_request", field: "uid" });
    expect(reply.headers?.get("Nats-Service-Error-Code")).toBe("400");
    const list = decodeJson((await nc.request(datastore.list.subject, encodeJson({ limit: 5000 }))).data) as { error: { field: string } };
    expect(list.error.field).toBe("limit");

    const unknown = await call(nc, datastore.get, { uid: newUid() }).catch((e) => e);
    expect(unknown).toBeInstanceOf(GentlyError);
    expect(unknown.code).toBe("not_found");
    expect((await call(nc, datastore.lineage, { uid: newUid() }).catch((e) => e)).code).toBe("not_found");
  });

  it("registers an external file under the storage root over NATS, idempotently, and refuses one outside", async () => {
    const file = path.join(storage.dir, "derived", "imports-note.txt");
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, "hello");
    const uid = newUid();
    const first = await call(nc, datastore.register, { uid, path: "derived/imports-note.txt", data_type: "analysis", bytes: 5, metadata: { note: true } });
    expect(first).toMatchObject({ existed: false, item: { uid, path: file, bytes: 5 } });
    const again = await call(nc, datastore.register, { uid, path: file, data_type: "analysis", bytes: 5, metadata: { note: true } });
    expect(again.existed).toBe(true);
    const outside = await call(nc, datastore.register, { uid: newUid(), path: "/etc/hostname", data_type: "analysis", bytes: 1 }).catch((e) => e);
    expect(outside).toMatchObject({ code: "invalid_request", field: "path" });
    // files of the storage root that are not data: refused, named
    mkdirSync(path.join(storage.dir, "secrets"), { recursive: true });
    writeFileSync(path.join(storage.dir, "secrets", "nats-users.json"), "{}");
    const secret = await call(nc, datastore.register, { uid: newUid(), path: "secrets/nats-users.json", data_type: "analysis", bytes: 2 }).catch((e) => e);
    expect(secret).toMatchObject({ code: "invalid_request", field: "path" });
    expect(secret.message).toContain("secrets/nats-users.json is not under volumes/ or derived/");
    const conflict = await call(nc, datastore.register, { uid, path: path.join(storage.dir, "volumes", "x"), data_type: "analysis", bytes: 1 }).catch((e) => e);
    expect(conflict.code).toMatch(/not_found|conflict/);
  });

  it("records nothing for a failed volume or an announcement whose file is missing, and keeps consuming", async () => {
    const { js } = await jetStreamOf(nc);
    const failedUid = newUid();
    await publishDurable(js, subjects.volume.failed, VolumeFailed, { uid: failedUid, session_id: "failures", reason: "disk full", code: "disk_full", failed: new Date().toISOString() }, `${failedUid}-failed`);
    const ghost = await writeSampleVolume(storage.dir, { session_id: "failures" });
    const { rmSync } = await import("node:fs");
    rmSync(ghost.path);
    await announce(ghost);
    const good = await writeSampleVolume(storage.dir, { session_id: "failures" });
    await announce(good);
    await waitFor(() => call(nc, datastore.get, { uid: good.uid }).catch(() => null), 15_000, "the volume after the bad ones");
    expect((await call(nc, datastore.list, { session_id: "failures" })).items.map((i) => i.uid)).toEqual([good.uid]);
    expect((await call(nc, datastore.get, { uid: failedUid }).catch((e) => e)).code).toBe("not_found");
    expect(indexer.lines.some((l) => l.includes(ghost.uid) && l.includes("not indexed"))).toBe(true);
  });

  it("finds a volume written on a host that sees the storage elsewhere (a Windows writer's D:\\ path) by its storage_path", async () => {
    const volume = await writeSampleVolume(storage.dir, { session_id: "elsewhere" });
    const storagePath = path.relative(storage.dir, volume.path).split(path.sep).join("/");
    await announce({ ...volume, path: `D:\\gently\\storage\\${storagePath.replace(/\//g, "\\")}`, storage_path: storagePath });
    const item = await waitFor(() => call(nc, datastore.get, { uid: volume.uid }).catch(() => null), 15_000, "the volume indexed");
    expect(item.path).toBe(volume.path);
  });

  it("holds the index lock while running, so a rebuild is refused until it stops cleanly", async () => {
    const err = await new DataStore(storage.dir).rebuild().catch((e) => e);
    expect(err).toMatchObject({ code: "conflict" });
    expect(await indexer.stop()).toBe(0);
    const store = new DataStore(storage.dir);
    try {
      const before = store.list({ limit: 1000 }).length;
      const report = await store.rebuild();
      expect(report.items).toBe(before);
      expect(report.lost_uids).toEqual([]);
    } finally {
      store.close();
    }
    indexer = await startIndexer();
  });
});
