import { existsSync, renameSync } from "node:fs";
import { DataStore } from "./datastore";
import { acquireIndexLock } from "./index-lock";
import { indexPathOf } from "@gently/storage";

const CORRUPT = new Set(["SQLITE_CORRUPT", "SQLITE_NOTADB"]);

/**
 * Opens the index for a rebuild, holding the index lock. An index file SQLite
 * cannot read is moved aside to `index.sqlite.corrupt-<time>` (with its -wal
 * and -shm) and a fresh one is made: the files are the truth, the rebuild
 * recreates every row.
 */
export function openForRebuild(storage: string): { store: DataStore; movedAside?: string } {
  let store: DataStore | undefined;
  try {
    store = new DataStore(storage, { holdLock: "rebuild" });
    store.count(); // a damaged file may open and fail only when read
    return { store };
  } catch (err) {
    store?.close();
    if (!CORRUPT.has((err as { code?: string }).code ?? "")) throw err;
  }
  const lock = acquireIndexLock(storage, "rebuild");
  const index = indexPathOf(storage);
  const aside = `${index}.corrupt-${new Date().toISOString().replace(/[:.]/g, "-")}`;
  try {
    for (const suffix of ["", "-wal", "-shm"]) if (existsSync(index + suffix)) renameSync(index + suffix, aside + suffix);
  } finally {
    lock.release();
  }
  return { store: new DataStore(storage, { holdLock: "rebuild" }), movedAside: aside };
}
