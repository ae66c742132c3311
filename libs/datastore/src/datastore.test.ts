import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GentlyError, newUid, type VolumeWritten } from "@gently/protocol";
import { tempStorage } from "@gently/testing";
import { DataStore } from "./datastore";
import { writeDerivedItem } from "@gently/derived";
import { sidecarPathFor } from "@gently/storage";
import { writeSampleVolume } from "./sample-volume";
import { sessionUid } from "./session-uid";

function refusal(fn: () => unknown): GentlyError {
  try {
    fn();
  } catch (err) {
    if (err instanceof GentlyError) return err;
    throw err;
  }
  throw new Error("expected a refusal");
}

describe("DataStore", () => {
  const storage = tempStorage("gently-datastore-");
  let store: DataStore;
  let volume: VolumeWritten;

  beforeAll(async () => {
    store = new DataStore(storage.dir);
    volume = await writeSampleVolume(storage.dir, { session_id: "embryo-a", created: "2025-03-01T10:00:00.000Z" });
  });

  afterAll(() => {
    store?.close();
    storage.remove();
  });

  it("registers a volume, a detection from it and a mask from that; lineage walks back oldest first", async () => {
    const reg = store.registerExternalFile(volume.uid, volume.path, volume);
    expect(reg.existed).toBe(false);
    expect(reg.item).toMatchObject({
      uid: volume.uid,
      data_type: "volume",
      path: volume.path,
      shape: volume.shape,
      dtype: "uint16",
      bytes: volume.bytes,
      checksum: volume.checksum,
      session_id: "embryo-a",
      run_uid: volume.run_uid,
      parent_uid: null,
      created: "2025-03-01T10:00:00.000Z",
    });
    expect(reg.item.metadata).toEqual(volume.metadata);
    expect(store.get(volume.uid)).toEqual(reg.item);

    const detection = await writeDerivedItem(
      storage.dir,
      { uid: newUid(), ext: "json", data_type: "detection", parent_uid: volume.uid, session_id: "embryo-a", created: "2025-03-01T10:01:00Z", metadata: { embryos: 2 } },
      Buffer.from(JSON.stringify({ embryos: [{ x_um: 1 }, { x_um: 2 }] })),
    );
    const mask = await writeDerivedItem(
      storage.dir,
      { uid: newUid(), ext: "mask.bin", data_type: "analysis", parent_uid: detection.uid, session_id: "embryo-a", created: "2025-03-01T10:02:00Z", metadata: {} },
      new Uint8Array(256).fill(1),
    );
    store.registerExternalFile(detection.uid, detection.path, detection);
    store.registerExternalFile(mask.uid, mask.path, mask);

    const lineage = store.lineage(mask.uid);
    expect(lineage.items.map((i) => i.uid)).toEqual([volume.uid, detection.uid, mask.uid]);
    expect(lineage.cycle).toBe(false);
    expect(lineage.missing_parent_uid).toBeUndefined();
    expect(store.children(volume.uid).map((i) => i.uid)).toEqual([detection.uid]);
    expect(store.children(mask.uid)).toEqual([]);
    expect(store.get(detection.uid)!.metadata).toEqual({ embryos: 2 });
  });

  it("is idempotent: the same uid and file again returns the existing row and counts nothing twice", () => {
    const before = store.sessions().find((s) => s.session_id === "embryo-a")!;
    const again = store.registerExternalFile(volume.uid, volume.path, volume);
    expect(again.existed).toBe(true);
    expect(again.item).toEqual(store.get(volume.uid));
    expect(store.sessions().find((s) => s.session_id === "embryo-a")).toEqual(before);
  });

  it("keeps one session row per session_id with its totals, created with the first item", () => {
    const session = store.get(sessionUid("embryo-a"))!;
    expect(session).toMatchObject({ data_type: "session", session_id: "embryo-a", path: null, created: "2025-03-01T10:00:00.000Z" });
    const items = store.list({ session_id: "embryo-a" });
    expect(items).toHaveLength(3);
    const summary = store.sessions().find((s) => s.session_id === "embryo-a")!;
    expect(summary).toMatchObject({
      uid: session.uid,
      items: 3,
      bytes: items.reduce((n, i) => n + i.bytes, 0),
      by_type: { volume: 1, detection: 1, analysis: 1 },
      first: "2025-03-01T10:00:00.000Z",
      last: "2025-03-01T10:02:00.000Z",
    });
    expect(session.bytes).toBe(summary.bytes);
    expect(store.list({ data_type: "session" }).map((i) => i.uid)).toContain(session.uid);
  });

  it("refuses a uid already registered for another file, and a file already registered under another uid", async () => {
    const other = await writeSampleVolume(storage.dir, { session_id: "embryo-a" });
    const sameUid = refusal(() => store.registerExternalFile(volume.uid, other.path, other));
    expect(sameUid.code).toBe("conflict");
    expect(sameUid.field).toBe("uid");
    const sameFile = refusal(() => store.registerExternalFile(newUid(), volume.path, volume));
    expect(sameFile.code).toBe("conflict");
    expect(sameFile.field).toBe("path");
    const changed = refusal(() => store.registerExternalFile(volume.uid, volume.path, { ...volume, checksum: { algorithm: "xxh3-64", hex: "00000000000000ff" } }));
    expect(changed.code).toBe("conflict");
    expect(store.get(volume.uid)!.checksum).toEqual(volume.checksum);
  });

  it("refuses paths outside the storage root, symlinks pointing out, missing files and wrong sizes", () => {
    const outside = mkdtempSync(path.join(os.tmpdir(), "gently-outside-"));
    try {
      const secret = path.join(outside, "secret.bin");
      writeFileSync(secret, "0123456789");
      const facts = { data_type: "analysis" as const, bytes: 10, metadata: {} };

      const direct = refusal(() => store.registerExternalFile(newUid(), secret, facts));
      expect(direct).toMatchObject({ code: "invalid_request", field: "path" });
      expect(direct.message).toMatch(/outside the storage root/);

      const dotdot = refusal(() => store.registerExternalFile(newUid(), path.join(storage.dir, "..", path.basename(outside), "secret.bin"), facts));
      expect(dotdot).toMatchObject({ code: "invalid_request", field: "path" });

      mkdirSync(path.join(storage.dir, "imports"), { recursive: true });
      const link = path.join(storage.dir, "imports", "link.bin");
      symlinkSync(secret, link);
      const viaLink = refusal(() => store.registerExternalFile(newUid(), link, facts));
      expect(viaLink).toMatchObject({ code: "invalid_request", field: "path" });
      const dirLink = path.join(storage.dir, "imports", "elsewhere");
      symlinkSync(outside, dirLink);
      expect(refusal(() => store.registerExternalFile(newUid(), path.join(dirLink, "secret.bin"), facts))).toMatchObject({ code: "invalid_request", field: "path" });

      expect(refusal(() => store.registerExternalFile(newUid(), path.join(storage.dir, "imports", "nope.bin"), facts)).code).toBe("not_found");
      expect(refusal(() => store.registerExternalFile(newUid(), path.join(storage.dir, "index.sqlite"), facts)).field).toBe("path");
      expect(refusal(() => store.registerExternalFile(newUid(), storage.dir, facts)).field).toBe("path");

      // only data files: never the secrets, the JetStream store or anything outside volumes/ and derived/
      mkdirSync(path.join(storage.dir, "secrets"), { recursive: true });
      writeFileSync(path.join(storage.dir, "secrets", "nats-copilot.password"), "0123456789");
      const secretFile = refusal(() => store.registerExternalFile(newUid(), "secrets/nats-copilot.password", facts));
      expect(secretFile).toMatchObject({ code: "invalid_request", field: "path" });
      expect(secretFile.message).toMatch(/not under volumes\/ or derived\//);
      writeFileSync(path.join(storage.dir, "imports", "plain.bin"), "0123456789");
      expect(refusal(() => store.registerExternalFile(newUid(), "imports/plain.bin", facts)).message).toMatch(/imports\/ is not data/);

      mkdirSync(path.join(storage.dir, "derived"), { recursive: true });
      const inside = path.join(storage.dir, "derived", "note.bin");
      writeFileSync(inside, "01234567");
      const size = refusal(() => store.registerExternalFile(newUid(), inside, facts));
      expect(size).toMatchObject({ code: "invalid_request", field: "bytes" });
      expect(refusal(() => store.registerExternalFile("../../etc", inside, { ...facts, bytes: 8 })).field).toBe("uid");
      expect(refusal(() => store.registerExternalFile(newUid(), inside, { ...facts, bytes: 8, data_type: "session" })).field).toBe("data_type");
      expect(store.list({}).map((i) => i.path)).not.toContain(secret);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it("registers a file reached through a symlink that stays inside, under its real path, and writes it a sidecar", () => {
    const real = path.join(storage.dir, "derived", "calibration.csv");
    writeFileSync(real, "slope,1.02\n");
    const link = path.join(storage.dir, "calib-link.csv");
    symlinkSync(real, link);
    const uid = newUid();
    const { item } = store.registerExternalFile(uid, link, { data_type: "calibration", bytes: 11, session_id: "embryo-b", metadata: { slope: 1.02 } });
    expect(item.path).toBe(real);
    expect(store.get(uid)!.data_type).toBe("calibration");
    expect(JSON.parse(readFileSync(sidecarPathFor(real), "utf8"))).toMatchObject({ uid, data_type: "calibration", metadata: { slope: 1.02 } });
  });

  it("lists by session, type, run and time, newest first, with limit and offset", async () => {
    const run = newUid();
    const made: VolumeWritten[] = [];
    for (let i = 0; i < 4; i++) {
      const v = await writeSampleVolume(storage.dir, { session_id: "timelapse", run_uid: run, data_type: i % 2 ? "image" : "volume", size_z: i % 2 ? 1 : 2, created: `2025-04-0${i + 1}T00:00:00Z` });
      store.registerExternalFile(v.uid, v.path, v);
      made.push(v);
    }
    const newestFirst = [...made].reverse().map((v) => v.uid);
    expect(store.list({ session_id: "timelapse" }).map((i) => i.uid)).toEqual(newestFirst);
    expect(store.list({ run_uid: run, data_type: "image" }).map((i) => i.uid)).toEqual([made[3]!.uid, made[1]!.uid]);
    expect(store.list({ session_id: "timelapse", since: "2025-04-02T00:00:00Z", until: "2025-04-04T00:00:00Z" }).map((i) => i.uid)).toEqual([made[2]!.uid, made[1]!.uid]);
    expect(store.list({ session_id: "timelapse", limit: 2, offset: 1 }).map((i) => i.uid)).toEqual(newestFirst.slice(1, 3));
    expect(store.list({ session_id: "nobody" })).toEqual([]);
    expect(refusal(() => store.list({ limit: 0 }))).toMatchObject({ code: "invalid_request", field: "limit" });
    const lasts = store.sessions().map((s) => s.last);
    expect(lasts).toEqual([...lasts].sort().reverse());
  });

  it("walks a lineage safely through a missing parent and through a loop", async () => {
    const a = newUid();
    const b = newUid();
    const ghost = newUid();
    const item = async (uid: string, parent: string) =>
      writeDerivedItem(storage.dir, { uid, ext: "json", data_type: "analysis", parent_uid: parent as VolumeWritten["uid"], metadata: {} }, Buffer.from("{}"));
    for (const body of [await item(a, b), await item(b, a)]) store.registerExternalFile(body.uid, body.path, body);
    const loop = store.lineage(a);
    expect(loop.cycle).toBe(true);
    expect(loop.items.map((i) => i.uid)).toEqual([b, a]);

    const orphan = await item(newUid(), ghost);
    store.registerExternalFile(orphan.uid, orphan.path, orphan);
    expect(store.lineage(orphan.uid)).toMatchObject({ cycle: false, missing_parent_uid: ghost });
    expect(refusal(() => store.lineage(newUid())).code).toBe("not_found");
    expect(refusal(() => store.children("not-a-uid")).code).toBe("invalid_request");
    const self = newUid();
    expect(refusal(() => store.registerExternalFile(self, orphan.path, { ...orphan, parent_uid: self as VolumeWritten["uid"] })).field).toBe("parent_uid");
  });

  it("answers the session list from its index, not a table scan", () => {
    const plan = store.db
      .prepare("EXPLAIN QUERY PLAN SELECT * FROM items WHERE session_id = ? AND data_type != 'session' ORDER BY created DESC, rowid DESC LIMIT 10")
      .all("timelapse") as { detail: string }[];
    expect(plan.map((p) => p.detail).join(" ")).toMatch(/USING INDEX items_by_session/);
    expect(plan.map((p) => p.detail).join(" ")).not.toMatch(/TEMP B-TREE/);
  });
});
