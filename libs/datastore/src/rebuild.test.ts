import { spawnSync } from "node:child_process";
import { mkdirSync, renameSync, rmSync, truncateSync, writeFileSync, readFileSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import Database from "better-sqlite3";
import { GentlyError, newUid, type DataItem, type DerivedWritten, type VolumeWritten } from "@gently/protocol";
import { tempStorage } from "@gently/testing";
import { compareItems } from "./compare";
import { DataStore } from "./datastore";
import { writeDerivedItem } from "@gently/derived";
import { acquireIndexLock } from "./index-lock";
import { indexPathOf, LAYOUT } from "@gently/storage";
import { openForRebuild } from "./open-for-rebuild";
import { writeSampleVolume } from "./sample-volume";

/** Indexes what events would have announced: volumes, derived items and an externally registered file. */
async function populate(storage: string, store: DataStore): Promise<{ volumes: VolumeWritten[]; derived: DerivedWritten[] }> {
  const volumes = [
    await writeSampleVolume(storage, { session_id: "s1", created: "2025-05-01T09:00:00Z", dropped_frames: 2 }),
    await writeSampleVolume(storage, { session_id: "s1", data_type: "image", created: "2025-05-01T09:05:00Z" }),
    await writeSampleVolume(storage, { session_id: "s2", created: "2025-05-02T09:00:00Z" }),
  ];
  for (const v of volumes) store.registerExternalFile(v.uid, v.path, v);
  const detection = await writeDerivedItem(
    storage,
    { uid: newUid(), ext: "json", data_type: "detection", parent_uid: volumes[0]!.uid, session_id: "s1", run_uid: volumes[0]!.run_uid, created: "2025-05-01T09:01:00Z", metadata: { embryos: 3 } },
    Buffer.from('{"embryos":[]}'),
  );
  const mip = await writeDerivedItem(
    storage,
    { uid: newUid(), ext: "png", data_type: "analysis", parent_uid: detection.uid, session_id: "s1", shape: [16, 32], dtype: "uint8", created: "2025-05-01T09:02:00Z", metadata: { kind: "mip" } },
    new Uint8Array(512).fill(7),
  );
  for (const d of [detection, mip]) store.registerExternalFile(d.uid, d.path, d);
  writeFileSync(path.join(storage, "derived", "fit.csv"), "slope,1.5\n");
  const external = store.registerExternalFile(newUid(), "derived/fit.csv", { data_type: "calibration", bytes: 10, session_id: "s2", created: "2025-05-02T10:00:00Z", metadata: { slope: 1.5 } });
  return { volumes, derived: [detection, mip, { ...external.item, path: external.item.path! } as unknown as DerivedWritten] };
}

function without(item: DataItem, fields: string[]): unknown {
  const copy = structuredClone(item) as Record<string, any>;
  for (const f of fields) {
    const [head, ...rest] = f.split(".");
    if (rest.length === 0) delete copy[head!];
    else delete copy[head!][rest.join(".")];
  }
  return copy;
}

describe("rebuild", () => {
  const storage = tempStorage("gently-rebuild-");
  let store: DataStore;
  let events: DataItem[];

  beforeAll(async () => {
    store = new DataStore(storage.dir);
    const { volumes } = await populate(storage.dir, store);
    events = store.all();
    // Files that are not good data: a quarantined volume, a writer's partial file, a stray file.
    const failed = await writeSampleVolume(storage.dir, { session_id: "s1" });
    mkdirSync(path.join(storage.dir, LAYOUT.quarantine), { recursive: true });
    renameSync(failed.path, path.join(storage.dir, LAYOUT.quarantine, path.basename(failed.path)));
    writeFileSync(path.join(storage.dir, "volumes", `.${newUid()}.x.tif.partial`), "partial");
    writeFileSync(path.join(storage.dir, "volumes", "notes.txt"), "not a volume");
    expect(volumes).toHaveLength(3);
  });

  afterAll(() => {
    store?.close();
    storage.remove();
  });

  it("rebuilds the same rows from the files and names the fields only the events knew", async () => {
    const progress: number[] = [];
    const report = await store.rebuild({ onProgress: (p) => progress.push(p.done) });
    const rebuilt = store.all();
    expect(report).toMatchObject({ items: 6, items_before: 6, sessions: 2, lost_uids: [], new_uids: [] });
    expect(report.by_type).toEqual({ volume: 2, image: 1, detection: 1, analysis: 1, calibration: 1 });
    // Known only after the file was closed: when it was announced, and how many frames the camera dropped.
    expect(report.event_only_fields).toEqual(["created", "metadata.dropped_frames"]);
    expect(report.skipped).toEqual([{ path: path.join(storage.dir, "volumes", "notes.txt"), reason: "neither a sidecar nor a gently volume file" }]);
    expect(progress.at(-1)).toBe(7);

    expect(rebuilt.map((i) => i.uid).sort()).toEqual(events.map((i) => i.uid).sort());
    const byUid = new Map(rebuilt.map((i) => [i.uid, i]));
    for (const before of events.filter((i) => i.data_type !== "session")) {
      expect(without(byUid.get(before.uid)!, report.event_only_fields)).toEqual(without(before, report.event_only_fields));
    }
    // The derived items' own sidecars reproduce them exactly, created included.
    for (const before of events.filter((i) => !["volume", "image", "session"].includes(i.data_type))) {
      expect(byUid.get(before.uid)).toEqual(before);
    }
  });

  it("rebuilds from an empty index (the file deleted) to the same rows", async () => {
    const first = store.all();
    store.close();
    for (const suffix of ["", "-wal", "-shm"]) rmSync(path.join(storage.dir, "index.sqlite" + suffix), { force: true });
    store = new DataStore(storage.dir);
    expect(store.count()).toBe(0);
    const report = await store.rebuild();
    expect(report).toMatchObject({ items: 6, items_before: 0, event_only_fields: [] });
    expect(report.new_uids).toHaveLength(6);
    expect(compareItems(first, store.all())).toEqual({ only_before: [], only_after: [], fields: [] });
    const items = (rows: DataItem[]) => rows.filter((i) => i.data_type !== "session");
    expect(compareItems(items(events), items(store.all())).fields.map((f) => f.field).sort()).toEqual(["created", "metadata.dropped_frames"]);
    expect(store.sessions().map((s) => [s.session_id, s.items])).toEqual([
      ["s2", 2],
      ["s1", 4],
    ]);
  });
});

describe("rebuild of a damaged index", () => {
  const storage = tempStorage("gently-corrupt-");
  afterAll(() => storage.remove());

  it("moves an unreadable index.sqlite aside and rebuilds a fresh one from the files", async () => {
    const volume = await writeSampleVolume(storage.dir, { session_id: "s" });
    writeFileSync(path.join(storage.dir, "index.sqlite"), Buffer.alloc(8192, 0x5a));
    const { store, movedAside } = openForRebuild(storage.dir);
    try {
      expect(movedAside).toMatch(/index\.sqlite\.corrupt-/);
      expect(readFileSync(movedAside!)).toEqual(Buffer.alloc(8192, 0x5a));
      const report = await store.rebuild();
      expect(report.items).toBe(1);
      expect(store.get(volume.uid)).toMatchObject({ checksum: volume.checksum, shape: volume.shape });
    } finally {
      store.close();
    }
  });
});

describe("verify", () => {
  const storage = tempStorage("gently-verify-");
  let store: DataStore;
  let volumes: VolumeWritten[];
  let derived: DerivedWritten[];

  beforeAll(async () => {
    store = new DataStore(storage.dir);
    ({ volumes, derived } = await populate(storage.dir, store));
  });

  afterAll(() => {
    store?.close();
    storage.remove();
  });

  it("finds nothing wrong on a consistent store, checksums included", async () => {
    const report = await store.verify();
    expect(report).toMatchObject({ ok: true, checked: 6, checksums_verified: 5, missing: [], size_mismatch: [], checksum_mismatch: [], unknown_files: [] });
  });

  it("reports a deleted file, a truncated file, a same-size corruption and files no row knows", async () => {
    const [deleted, truncated, corrupted] = volumes as [VolumeWritten, VolumeWritten, VolumeWritten];
    rmSync(deleted.path);
    truncateSync(truncated.path, truncated.bytes - 100);
    const bytes = readFileSync(corrupted.path);
    bytes[bytes.length - 1] ^= 0xff;
    writeFileSync(corrupted.path, bytes);
    const strayVolume = path.join(storage.dir, "volumes", `${newUid()}.tif`);
    const strayDerived = path.join(storage.dir, "derived", "extra.json");
    writeFileSync(strayVolume, "II*\0");
    writeFileSync(strayDerived, "{}");
    rmSync(derived[1]!.path); // its sidecar stays behind, known to the row that lost its file

    const report = await store.verify();
    expect(report.ok).toBe(false);
    expect(report.missing.map((m) => m.uid).sort()).toEqual([deleted.uid, derived[1]!.uid].sort());
    expect(report.size_mismatch).toEqual([{ uid: truncated.uid, path: truncated.path, expected_bytes: truncated.bytes, actual_bytes: truncated.bytes - 100 }]);
    expect(report.checksum_mismatch).toEqual([expect.objectContaining({ uid: corrupted.uid, expected: `xxh3-64:${corrupted.checksum.hex}` })]);
    expect(report.unknown_files.sort()).toEqual([strayDerived, strayVolume].sort());

    const quick = await store.verify({ checksums: false });
    expect(quick.checksum_mismatch).toEqual([]);
    expect(quick.checksums_verified).toBe(0);
    expect(quick.size_mismatch).toHaveLength(1);
  });

  it("reports a row whose file is not a data file (an index written before registration was confined)", async () => {
    mkdirSync(path.join(storage.dir, "secrets"), { recursive: true });
    writeFileSync(path.join(storage.dir, "secrets", "nats-users.json"), "{}");
    const forged = newUid();
    const raw = new Database(indexPathOf(storage.dir));
    raw
      .prepare("INSERT INTO items (uid, data_type, path, bytes, created, metadata) VALUES (?, 'image', 'secrets/nats-users.json', 2, ?, '{}')")
      .run(forged, new Date().toISOString());
    raw.close();
    const report = await store.verify();
    expect(report.ok).toBe(false);
    expect(report.not_data).toEqual([
      { uid: forged, path: path.join(storage.dir, "secrets", "nats-users.json"), reason: expect.stringContaining("not under volumes/ or derived/") },
    ]);
  });
});

describe("index lock", () => {
  const storage = tempStorage("gently-lock-");
  afterAll(() => storage.remove());

  it("refuses a rebuild while another process-level holder (the indexer) has the index", async () => {
    const indexer = new DataStore(storage.dir, { holdLock: "indexer" });
    const cli = new DataStore(storage.dir);
    try {
      const err = await cli.rebuild().catch((e) => e);
      expect(err).toBeInstanceOf(GentlyError);
      expect(err.code).toBe("conflict");
      expect(err.message).toMatch(/indexer \(pid \d+/);
      await expect(indexer.rebuild()).resolves.toMatchObject({ items: 0 });
      expect(() => new DataStore(storage.dir, { holdLock: "indexer" })).toThrow(/held by indexer/);
    } finally {
      cli.close();
      indexer.close();
    }
    expect(existsSync(path.join(storage.dir, LAYOUT.lock))).toBe(false);
    await expect(new DataStore(storage.dir).rebuild()).resolves.toMatchObject({ items: 0 });
  });

  it("takes over a lock whose holder died on this host, but not one held on another host", () => {
    const dead = spawnSync(process.execPath, ["-e", ""]).pid!;
    const file = path.join(storage.dir, LAYOUT.lock);
    writeFileSync(file, JSON.stringify({ holder: "indexer", pid: dead, host: os.hostname(), since: "2025-01-01T00:00:00Z" }));
    const lock = acquireIndexLock(storage.dir, "rebuild");
    expect(JSON.parse(readFileSync(file, "utf8"))).toMatchObject({ holder: "rebuild", pid: process.pid });
    lock.release();
    writeFileSync(file, JSON.stringify({ holder: "indexer", pid: dead, host: "another-host", since: "2025-01-01T00:00:00Z" }));
    expect(() => acquireIndexLock(storage.dir, "rebuild")).toThrow(/another-host/);
  });
});
