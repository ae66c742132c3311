import { link, mkdir, open, unlink } from "node:fs/promises";
import path from "node:path";

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Moves a partial file of a failed volume into quarantine/ as
 * `{finalName}.partial` (e.g. `X.tif.partial`): kept for inspection or rescue,
 * never where a reader of volumes/ would take it for data. link + unlink
 * instead of rename so an earlier quarantined file of the same name is never
 * replaced; both directories are fsynced so the move survives a power cut.
 */
export async function quarantineFile(partialPath: string, quarantineDir: string, finalName: string): Promise<string> {
  await mkdir(quarantineDir, { recursive: true });
  for (let attempt = 0; ; attempt++) {
    const name = attempt === 0 ? `${finalName}.partial` : `${finalName}.${attempt}.partial`;
    const target = path.join(quarantineDir, name);
    try {
      await link(partialPath, target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST" && attempt < 1000) continue;
      throw err;
    }
    await unlink(partialPath);
    await fsyncDir(quarantineDir);
    await fsyncDir(path.dirname(partialPath));
    return target;
  }
}
