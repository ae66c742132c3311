import { readdir } from "node:fs/promises";
import path from "node:path";
import { isSidecar, LAYOUT, SIDECAR_SUFFIX } from "@gently/storage";

export interface ScannedFile {
  /** real path */
  file: string;
  /** relative to the real storage root */
  rel: string;
  /** whether X.meta.json exists beside it */
  hasSidecar: boolean;
  /** under volumes/ or derived/, where every file should be known to the index */
  owned: boolean;
}

export interface StorageScan {
  data: ScannedFile[];
  /** sidecars whose data file is not there */
  orphanSidecars: string[];
}

const SKIP_TOP = new Set<string>([LAYOUT.nats]);

function isSystemFile(rel: string): boolean {
  return rel === LAYOUT.lock || rel.startsWith(LAYOUT.index);
}

/**
 * Every data file under the storage root, except the system's own state
 * (nats/, index.sqlite*, index.lock), quarantined volumes and hidden files
 * (temp and partial files start with a dot). Directory symlinks are not
 * followed: nothing outside the root is scanned.
 */
export async function scanStorage(realRoot: string): Promise<StorageScan> {
  const files: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return [];
      throw err;
    });
    for (const e of entries) {
      if (e.name.startsWith(".")) continue;
      const full = path.join(dir, e.name);
      const rel = path.relative(realRoot, full);
      if (e.isDirectory()) {
        if (SKIP_TOP.has(rel) || rel === LAYOUT.quarantine) continue;
        await walk(full);
      } else if (e.isFile() && !isSystemFile(rel)) {
        files.push(rel);
      }
    }
  };
  await walk(realRoot);
  const present = new Set(files);
  const data: ScannedFile[] = [];
  const orphanSidecars: string[] = [];
  for (const rel of files.sort()) {
    if (isSidecar(rel)) {
      if (!present.has(rel.slice(0, -SIDECAR_SUFFIX.length))) orphanSidecars.push(path.join(realRoot, rel));
      continue;
    }
    const top = rel.split(path.sep)[0];
    data.push({
      file: path.join(realRoot, rel),
      rel,
      hasSidecar: present.has(rel + SIDECAR_SUFFIX),
      owned: top === LAYOUT.volumes || top === LAYOUT.derived,
    });
  }
  return { data, orphanSidecars };
}
