import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { median, timeRuns } from "@gently/bench-stats";
import { newUid, type DataType } from "@gently/protocol";
import { DataStore } from "./datastore";
import type { ItemRecord } from "./item-record";

export interface DataStoreBenchResult {
  rows: number;
  sessions: number;
  build_ms: number;
  /** list({session_id}) of one session's items, newest first: median over `runs` */
  session_list_ms: number;
  /** sessions(): counts and bytes of every session */
  sessions_summary_ms: number;
  /** the same session list forced to scan the whole table (NOT INDEXED) */
  full_scan_ms: number;
  /** full_scan_ms / session_list_ms */
  scan_ratio: number;
  target_ms: number;
  runs: number;
}

const TYPES: DataType[] = ["volume", "volume", "volume", "image", "detection", "detection", "analysis", "calibration"];

/**
 * Builds an index of `rows` items over `sessions` sessions in a temp dir (one
 * transaction), then times the session query (target < 20 ms), the sessions
 * summary, and the session query as a full-table scan for comparison.
 */
export async function benchDataStore(opts: { rows?: number; sessions?: number; runs?: number } = {}): Promise<DataStoreBenchResult> {
  const rows = opts.rows ?? 100_000;
  const sessions = opts.sessions ?? 200;
  const runs = opts.runs ?? 51;
  const dir = mkdtempSync(path.join(os.tmpdir(), "gently-datastore-bench-"));
  const store = new DataStore(dir);
  try {
    const t0 = Date.now();
    const start = Date.parse("2025-01-01T00:00:00Z");
    function* records(): Generator<ItemRecord> {
      let parent: string | null = null;
      for (let i = 0; i < rows; i++) {
        const data_type = TYPES[i % TYPES.length]!;
        const uid = newUid();
        yield {
          uid,
          data_type,
          rel: path.join(data_type === "volume" || data_type === "image" ? "volumes" : "derived", `${uid}.tif`),
          shape: [50, 2048, 2048],
          dtype: "uint16",
          bytes: 419_430_400 + (i % 1000),
          checksum: { algorithm: "xxh3-64", hex: "0123456789abcdef" },
          session_id: `session-${Math.floor((i * sessions) / rows)}`,
          run_uid: null,
          parent_uid: data_type === "volume" ? null : parent,
          created: new Date(start + i * 1000).toISOString(),
          metadata: { plan_name: "z_stack", exposure_ms: 10, position: { x_um: i, y_um: -i } },
        };
        if (data_type === "volume") parent = uid;
      }
    }
    store.importRecords(records());
    const build_ms = Date.now() - t0;
    const sessionId = `session-${Math.floor(sessions / 2)}`;
    const session_list_ms = median(timeRuns(runs, () => store.list({ session_id: sessionId, limit: 1000 })));
    const sessions_summary_ms = median(timeRuns(Math.max(5, Math.floor(runs / 5)), () => store.sessions()));
    const scan = store.db.prepare(
      "SELECT * FROM items NOT INDEXED WHERE session_id = ? AND data_type != 'session' ORDER BY created DESC, rowid DESC LIMIT 1000",
    );
    const full_scan_ms = median(timeRuns(Math.max(5, Math.floor(runs / 5)), () => scan.all(sessionId)));
    return {
      rows,
      sessions,
      build_ms,
      session_list_ms,
      sessions_summary_ms,
      full_scan_ms,
      scan_ratio: full_scan_ms / session_list_ms,
      target_ms: 20,
      runs,
    };
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
