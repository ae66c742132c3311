import { basename } from "node:path";

/** A uid as a file name may carry it: letters, digits, '_' and '-', at most 128. */
export const FILE_UID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

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
  if (!FILE_UID_PATTERN.test(uid)) return null;
  return { uid, finalName: inner.slice(dot + 1) };
}
