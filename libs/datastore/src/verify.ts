import { stat } from "node:fs/promises";
import path from "node:path";
import { computeChecksum, verifyChecksum } from "@gently/ome-tiff";
import type { IndexAccess } from "./item-record";
import { sidecarPathFor, whyNotDataFile } from "@gently/storage";
import type { Progress } from "./rebuild";
import { scanStorage } from "./storage-scan";

export interface VerifyReport {
  ok: boolean;
  /** rows with a file (session rows have none) */
  checked: number;
  checksums_verified: number;
  missing: { uid: string; path: string }[];
  size_mismatch: { uid: string; path: string; expected_bytes: number; actual_bytes: number }[];
  checksum_mismatch: { uid: string; path: string; expected: string; actual: string }[];
  /** files under volumes/ or derived/ that no row knows (sidecars of known files are known) */
  unknown_files: string[];
  /** rows whose file is not a data file (outside volumes/ and derived/, quarantined, a sidecar, the system's own state) */
  not_data: { uid: string; path: string; reason: string }[];
}

/**
 * Checks the index against the disk without changing either: every row's
 * file exists with its size (and, with `checksums`, its xxh3-64 checksum),
 * and is a data file (under volumes/ or derived/: a row naming secrets/ or
 * anything else is reported), and every file under volumes/ and derived/
 * belongs to a row. Safe while the
 * indexer runs, though a file written a moment ago may show as unknown until
 * its event is indexed.
 */
export async function verifyIndex(
  store: IndexAccess,
  opts: { checksums?: boolean; onProgress?: (p: Progress) => void } = {},
): Promise<VerifyReport> {
  const checksums = opts.checksums ?? true;
  const rows = store.all().filter((i) => i.path !== null);
  const report: VerifyReport = { ok: true, checked: rows.length, checksums_verified: 0, missing: [], size_mismatch: [], checksum_mismatch: [], unknown_files: [], not_data: [] };
  const known = new Set<string>();
  let done = 0;
  for (const item of rows) {
    const rel = path.relative(store.root, item.path!);
    const file = path.join(store.realRoot, rel);
    known.add(rel);
    known.add(sidecarPathFor(rel));
    const notData = whyNotDataFile(rel);
    if (notData) report.not_data.push({ uid: item.uid, path: item.path!, reason: notData });
    const st = await stat(file).catch(() => null);
    if (!st || !st.isFile()) {
      report.missing.push({ uid: item.uid, path: item.path! });
    } else if (st.size !== item.bytes) {
      report.size_mismatch.push({ uid: item.uid, path: item.path!, expected_bytes: item.bytes, actual_bytes: st.size });
    } else if (checksums && item.checksum) {
      const verdict =
        item.checksum.algorithm === "xxh3-64"
          ? await verifyChecksum(file, item.checksum as Parameters<typeof verifyChecksum>[1])
          : { ok: false, actual: await computeChecksum(file) };
      report.checksums_verified++;
      if (!verdict.ok) report.checksum_mismatch.push({ uid: item.uid, path: item.path!, expected: `${item.checksum.algorithm}:${item.checksum.hex}`, actual: `${verdict.actual.algorithm}:${verdict.actual.hex}` });
    }
    opts.onProgress?.({ phase: "checking files", done: ++done, total: rows.length });
  }
  const scan = await scanStorage(store.realRoot);
  for (const f of scan.data) if (f.owned && !known.has(f.rel)) report.unknown_files.push(path.join(store.root, f.rel));
  for (const s of scan.orphanSidecars) {
    const rel = path.relative(store.realRoot, s);
    if (!known.has(rel)) report.unknown_files.push(path.join(store.root, rel));
  }
  report.ok =
    report.missing.length + report.size_mismatch.length + report.checksum_mismatch.length + report.unknown_files.length + report.not_data.length === 0;
  return report;
}
