import { link, open, unlink } from "node:fs/promises";

/** fsyncs a directory, so a rename, link or unlink in it survives a power cut. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Moves `from` to `to` on the same filesystem without ever replacing an
 * existing `to` (rename would): link, then unlink the old name. Rejects with
 * EEXIST, leaving `from` in place, when `to` exists. The caller fsyncs the
 * directories involved.
 */
export async function moveNoReplace(from: string, to: string): Promise<void> {
  await link(from, to);
  await unlink(from);
}
