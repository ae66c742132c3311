import { readdir, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { UID_PATTERN } from "./meta";

/**
 * Temp-file convention: a sink writes `{dir}/.{uid}.{finalBasename}.partial` in the directory of the
 * final file (or tmpDir) and renames it to the final path on finalize. Hidden, so directory listings
 * and indexers skip it; the uid comes first and contains no dot, so both the uid and the intended
 * final name can be parsed back unambiguously.
 */
export const PARTIAL_SUFFIX = ".partial";

export function partialFileName(uid: string, finalPath: string): string {
  return `.${uid}.${basename(finalPath)}${PARTIAL_SUFFIX}`;
}

/** Parses a name written by partialFileName; null for anything else. */
export function parsePartialFileName(name: string): { uid: string; finalName: string } | null {
  if (!name.startsWith(".") || !name.endsWith(PARTIAL_SUFFIX)) return null;
  const inner = name.slice(1, -PARTIAL_SUFFIX.length);
  const dot = inner.indexOf(".");
  if (dot <= 0 || dot === inner.length - 1) return null;
  const uid = inner.slice(0, dot);
  if (!UID_PATTERN.test(uid)) return null;
  return { uid, finalName: inner.slice(dot + 1) };
}

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
