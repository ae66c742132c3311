import path from "node:path";
import type { DataItem } from "@gently/protocol";

/** An items row as SQLite stores it. */
export interface ItemRow {
  uid: string;
  data_type: string;
  path: string | null;
  shape: string | null;
  dtype: string | null;
  bytes: number;
  checksum: string | null;
  session_id: string | null;
  run_uid: string | null;
  parent_uid: string | null;
  created: string;
  metadata: string;
}

const json = (text: string | null) => (text === null ? null : JSON.parse(text));

/** Row → DataItem; `root` turns the stored relative path into an absolute one. */
export function itemFromRow(row: ItemRow, root: string): DataItem {
  return {
    uid: row.uid,
    data_type: row.data_type,
    path: row.path === null ? null : path.join(root, row.path),
    shape: json(row.shape),
    dtype: row.dtype,
    bytes: row.bytes,
    checksum: json(row.checksum),
    session_id: row.session_id,
    run_uid: row.run_uid,
    parent_uid: row.parent_uid,
    created: row.created,
    metadata: JSON.parse(row.metadata),
  } as DataItem;
}

/** Every timestamp is stored as UTC with milliseconds, so text order is time order. */
export function normalizeTime(iso: string): string {
  return new Date(iso).toISOString();
}
