import { stat } from "node:fs/promises";
import path from "node:path";
import { isUid } from "@gently/protocol";
import { compareItems, type FieldDifference } from "./compare";
import type { IndexAccess, ItemRecord } from "./item-record";
import { readSidecar } from "@gently/derived";
import { LAYOUT, sidecarPathFor } from "@gently/storage";
import { scanStorage, type ScannedFile } from "./storage-scan";
import { volumeRecordFromFile } from "./volume-record";

export interface Progress {
  phase: string;
  done: number;
  total: number;
}

export interface RebuildReport {
  /** rows indexed from files, session rows not counted */
  items: number;
  by_type: Record<string, number>;
  sessions: number;
  /** files under volumes/ or derived/ that could not be indexed, with why */
  skipped: { path: string; reason: string }[];
  /** rows (not counting session rows) the index had before */
  items_before: number;
  /** item uids the old index had that no file gave back */
  lost_uids: string[];
  /** item uids found in files that the old index did not have */
  new_uids: string[];
  /**
   * Fields whose old value (from events) the files did not reproduce: what
   * only the events knew. Empty when the index was empty before.
   */
  event_only_fields: string[];
  field_differences: FieldDifference[];
}

/** One file back into a record: from its sidecar, else (volumes/{uid}.tif) from its OME header. */
async function recordOf(realRoot: string, f: ScannedFile): Promise<ItemRecord | null> {
  if (f.hasSidecar) {
    const body = await readSidecar(sidecarPathFor(f.file));
    if (!body) throw new Error("sidecar vanished");
    if (body.data_type === "session") throw new Error("a sidecar cannot describe a session");
    const { size } = await stat(f.file);
    if (size !== body.bytes) throw new Error(`file has ${size} bytes, its sidecar says ${body.bytes}`);
    return {
      uid: body.uid,
      data_type: body.data_type,
      rel: f.rel,
      shape: body.shape,
      dtype: body.dtype,
      bytes: body.bytes,
      checksum: body.checksum,
      session_id: body.session_id,
      run_uid: body.run_uid,
      parent_uid: body.parent_uid,
      created: body.created,
      metadata: body.metadata,
    };
  }
  const inVolumes = path.dirname(f.rel) === LAYOUT.volumes;
  if (inVolumes && f.rel.endsWith(".tif") && isUid(path.basename(f.rel, ".tif"))) return volumeRecordFromFile(realRoot, f.file);
  if (f.owned) throw new Error("neither a sidecar nor a gently volume file");
  return null; // a file outside volumes/ and derived/ that nobody registered
}

/**
 * Rebuilds the index from the files alone: every row is dropped and made
 * again from volumes/ (OME headers) and sidecars. The rows before are
 * compared with the rows after, so the report says what only the events had
 * told. Needs the index lock: the indexer must not run meanwhile.
 */
export async function rebuildIndex(store: IndexAccess, onProgress?: (p: Progress) => void): Promise<RebuildReport> {
  return store.withLock("rebuild", async () => {
    const before = store.all();
    const scan = await scanStorage(store.realRoot);
    const records: ItemRecord[] = [];
    const skipped: RebuildReport["skipped"] = scan.orphanSidecars.map((p) => ({ path: p, reason: "sidecar without its data file" }));
    const byUid = new Map<string, string>();
    let done = 0;
    for (const f of scan.data) {
      try {
        const record = await recordOf(store.realRoot, f);
        if (record) {
          const other = byUid.get(record.uid);
          if (other) throw new Error(`uid ${record.uid} is already taken by ${other}`);
          byUid.set(record.uid, f.rel);
          records.push(record);
        }
      } catch (err) {
        skipped.push({ path: f.file, reason: (err as Error).message });
      }
      onProgress?.({ phase: "reading files", done: ++done, total: scan.data.length });
    }
    store.importRecords(records, { replace: true });
    const after = store.all();
    // Session rows are sums of their items: differences show up in the items' own fields.
    const items = (rows: typeof before) => rows.filter((i) => i.data_type !== "session");
    const cmp = compareItems(items(before), items(after));
    const byType: Record<string, number> = {};
    for (const r of records) byType[r.data_type] = (byType[r.data_type] ?? 0) + 1;
    return {
      items: records.length,
      by_type: byType,
      sessions: after.filter((i) => i.data_type === "session").length,
      skipped,
      items_before: items(before).length,
      lost_uids: cmp.only_before,
      new_uids: cmp.only_after,
      event_only_fields: cmp.fields.map((d) => d.field).sort(),
      field_differences: cmp.fields,
    };
  });
}
