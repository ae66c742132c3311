import { realpathSync, statSync } from "node:fs";
import path from "node:path";
import { GentlyError, isUid } from "@gently/protocol";

/** Where things live under the storage root. */
export const LAYOUT = {
  index: "index.sqlite",
  lock: "index.lock",
  volumes: "volumes",
  /** failed acquisitions the writer kept; never indexed as good data */
  quarantine: path.join("volumes", "quarantine"),
  derived: "derived",
  /** the embedded JetStream store: not data */
  nats: "nats",
} as const;

/** Suffix of the file that describes a derived (or externally registered) file X: `X.meta.json`. */
export const SIDECAR_SUFFIX = ".meta.json";

export function volumesDirOf(storage: string): string {
  return path.join(storage, LAYOUT.volumes);
}

export function quarantineDirOf(storage: string): string {
  return path.join(storage, LAYOUT.quarantine);
}

/** The writer's name for volume {uid}'s file inside volumes/ (or quarantine/). */
export function volumeFileName(uid: string): string {
  return `${uid}.tif`;
}

export function indexPathOf(storage: string): string {
  return path.join(storage, LAYOUT.index);
}

export function volumePathFor(storage: string, uid: string): string {
  return path.join(storage, LAYOUT.volumes, volumeFileName(uid));
}

const EXT_PATTERN = /^[a-z0-9]+(\.[a-z0-9]+)*$/;

/**
 * Derived items (detections, label masks, MIPs, calibration records) live at
 * `{storage}/derived/{uid}.{ext}`, each with its sidecar beside it.
 */
export function derivedPathFor(storage: string, uid: string, ext: string): string {
  if (!isUid(uid)) throw new GentlyError("invalid_request", `not a uid: ${JSON.stringify(uid)}`, "uid");
  if (!EXT_PATTERN.test(ext) || ext.endsWith("meta.json")) {
    throw new GentlyError("invalid_request", `extension must be lowercase letters and digits joined by dots, got ${JSON.stringify(ext)}`, "ext");
  }
  return path.join(path.resolve(storage), LAYOUT.derived, `${uid}.${ext}`);
}

export function sidecarPathFor(file: string): string {
  return file + SIDECAR_SUFFIX;
}

export function isSidecar(file: string): boolean {
  return file.endsWith(SIDECAR_SUFFIX);
}

/**
 * Why a file (path relative to the storage root) is not a data file the
 * index may hold, or null when it is one: only files under volumes/ and
 * derived/ are, and of those not quarantined acquisitions nor sidecars.
 * Never secrets/, nats/ or the index itself.
 */
export function whyNotDataFile(rel: string): string | null {
  const top = rel.split(path.sep)[0];
  if (top !== LAYOUT.volumes && top !== LAYOUT.derived) {
    return `is not under ${LAYOUT.volumes}/ or ${LAYOUT.derived}/ (only data files are indexed; ${top}/ is not data)`;
  }
  if (rel.startsWith(LAYOUT.quarantine + path.sep)) return "is a quarantined (failed) acquisition, not good data";
  if (isSidecar(rel)) return "is a sidecar describing another file, not data";
  return null;
}

/**
 * Resolves a path given by a caller (absolute, or relative to the storage
 * root) to the real file, following every symlink, and refuses anything that
 * does not end up inside the real storage root: no `..` escape, no symlink
 * pointing out, nothing that is not a regular file, nothing outside volumes/
 * and derived/ (whyNotDataFile). Returns the path relative
 * to the root, which is what the index stores.
 */
export function confineToStorage(realRoot: string, given: string): { real: string; rel: string; bytes: number } {
  const candidate = path.resolve(realRoot, given);
  let real: string;
  try {
    real = realpathSync(candidate);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") throw new GentlyError("not_found", `no file at ${given}`, "path");
    throw new GentlyError("invalid_request", `cannot resolve ${given}: ${code ?? String(err)}`, "path");
  }
  const rel = path.relative(realRoot, real);
  if (rel === "" || rel.split(path.sep)[0] === ".." || path.isAbsolute(rel)) {
    throw new GentlyError("invalid_request", `${given} resolves to ${real}, outside the storage root ${realRoot}`, "path");
  }
  const notData = whyNotDataFile(rel);
  if (notData) throw new GentlyError("invalid_request", `path: ${given} ${notData}`, "path");
  const st = statSync(real);
  if (!st.isFile()) throw new GentlyError("invalid_request", `${given} is not a regular file`, "path");
  return { real, rel, bytes: st.size };
}
