import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { parsePartialFileName } from "@gently/storage";

// The partial-file names are the storage layout's; the sink and the writer reach them through this library.
export { partialFileName, parsePartialFileName, PARTIAL_SUFFIX } from "@gently/storage";

export interface Leftover {
  path: string;
  uid: string;
  /** Basename the file would have had after finalize. */
  finalName: string;
  bytes: number;
  mtime_ms: number;
}

/** Partial files left in `dir` by sinks that never finalized (crash, kill, abort with keep). */
export async function scanLeftovers(dir: string): Promise<Leftover[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const found: Leftover[] = [];
  for (const e of entries) {
    if (!e.isFile()) continue;
    const parsed = parsePartialFileName(e.name);
    if (!parsed) continue;
    const path = join(dir, e.name);
    try {
      const st = await stat(path);
      found.push({ path, ...parsed, bytes: st.size, mtime_ms: st.mtimeMs });
    } catch (err) {
      // A sink may finish or abort between readdir and stat; the file is then simply not a leftover.
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }
  return found.sort((a, b) => a.mtime_ms - b.mtime_ms);
}
