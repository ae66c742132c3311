import { mkdir, open, readFile, rename, unlink } from "node:fs/promises";
import path from "node:path";
import { computeChecksum, fsyncDir, moveNoReplace } from "@gently/ome-tiff";
import { DerivedWritten, GentlyError } from "@gently/protocol";
import { derivedPathFor, sidecarPathFor } from "@gently/storage";

/**
 * Convention for derived items (detections, label masks, MIPs, calibration
 * records): the data file is `{storage}/derived/{uid}.{ext}` and beside it
 * `{uid}.{ext}.meta.json` holds the item's DerivedWritten body. The sidecar is
 * what lets a rebuild recover parent_uid, session and metadata from disk.
 */

/** The facts a producer knows about a derived item; path, bytes and checksum come from the written file. */
export type DerivedItemInput = Omit<DerivedWritten, "path" | "bytes" | "checksum" | "created" | "uid"> & {
  uid: string;
  /** default: now */
  created?: string;
};

async function writeDurably(file: string, data: Uint8Array | string, opts: { exclusive: boolean }): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp`);
  const fh = await open(tmp, "w", 0o644);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  if (opts.exclusive) {
    // Data under a uid is never overwritten.
    try {
      await moveNoReplace(tmp, file);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      if ((err as NodeJS.ErrnoException).code === "EEXIST") throw new GentlyError("conflict", `${file} already exists`, "uid");
      throw err;
    }
  } else {
    await rename(tmp, file);
  }
}

/**
 * Writes `X.meta.json` for a derived file X that is already complete (e.g.
 * written by an encoder), with its size and xxh3-64 checksum, and returns the
 * DerivedWritten body to publish on gently.derived.written.
 */
export async function writeDerivedSidecar(file: string, item: DerivedItemInput): Promise<DerivedWritten> {
  const real = path.resolve(file);
  const [{ size }, checksum] = await Promise.all([
    open(real, "r").then(async (fh) => {
      try {
        return await fh.stat();
      } finally {
        await fh.close();
      }
    }),
    computeChecksum(real),
  ]);
  const body = DerivedWritten.parse({
    ...item,
    path: real,
    bytes: size,
    checksum,
    created: new Date(item.created ?? Date.now()).toISOString(),
  });
  await writeDurably(sidecarPathFor(real), JSON.stringify(body, null, 2) + "\n", { exclusive: false });
  await fsyncDir(path.dirname(real));
  return body;
}

/**
 * Writes a derived item's bytes to `{storage}/derived/{uid}.{ext}` (temp file,
 * fsync, no-overwrite link), then its sidecar; returns the DerivedWritten body
 * to publish. The data file appears only complete; a uid already used is refused.
 */
export async function writeDerivedItem(storage: string, item: DerivedItemInput & { ext: string }, data: Uint8Array): Promise<DerivedWritten> {
  const { ext, ...facts } = item;
  const file = derivedPathFor(storage, facts.uid, ext);
  await mkdir(path.dirname(file), { recursive: true });
  await writeDurably(file, data, { exclusive: true });
  return writeDerivedSidecar(file, facts);
}

/** Reads and validates a sidecar; null when there is none. */
export async function readSidecar(sidecar: string): Promise<DerivedWritten | null> {
  let text: string;
  try {
    text = await readFile(sidecar, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  return DerivedWritten.parse(JSON.parse(text));
}
