import { mkdir } from "node:fs/promises";
import path from "node:path";
import { fsyncDir, moveNoReplace } from "@gently/ome-tiff";

/**
 * Moves a partial file of a failed volume into quarantine/ as
 * `{finalName}.partial` (e.g. `X.tif.partial`): kept for inspection or rescue,
 * never where a reader of volumes/ would take it for data. An earlier
 * quarantined file of the same name is never replaced; both directories are
 * fsynced so the move survives a power cut.
 */
export async function quarantineFile(partialPath: string, quarantineDir: string, finalName: string): Promise<string> {
  await mkdir(quarantineDir, { recursive: true });
  for (let attempt = 0; ; attempt++) {
    const name = attempt === 0 ? `${finalName}.partial` : `${finalName}.${attempt}.partial`;
    const target = path.join(quarantineDir, name);
    try {
      await moveNoReplace(partialPath, target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST" && attempt < 1000) continue;
      throw err;
    }
    await fsyncDir(quarantineDir);
    await fsyncDir(path.dirname(partialPath));
    return target;
  }
}
