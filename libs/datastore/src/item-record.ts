import type { Checksum, DataItem, DataType } from "@gently/protocol";
import type { z } from "zod";

/** A row to insert, its file already checked: path relative to the storage root. */
export interface ItemRecord {
  uid: string;
  data_type: DataType;
  rel: string | null;
  shape?: number[] | null;
  dtype?: string | null;
  bytes: number;
  checksum?: z.infer<typeof Checksum> | null;
  session_id?: string | null;
  run_uid?: string | null;
  parent_uid?: string | null;
  /** ISO-8601; stored normalised to UTC milliseconds */
  created: string;
  metadata: Record<string, unknown>;
}

/**
 * What a rebuild and a verify need of an index: the DataStore is one; they
 * take this instead so the DataStore can call them without an import cycle.
 */
export interface IndexAccess {
  readonly root: string;
  readonly realRoot: string;
  all(): DataItem[];
  importRecords(records: Iterable<ItemRecord>, opts?: { replace?: boolean }): number;
  withLock<T>(holder: string, fn: () => Promise<T>): Promise<T>;
}
