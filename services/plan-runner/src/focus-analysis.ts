import { existsSync } from "node:fs";
import { readVolumeFile } from "@gently/ome-tiff";
import type { VolumeWritten } from "@gently/protocol";
import { volumePathFor } from "@gently/storage";
import { focusScore } from "./focus-score";

/** The file of a written image: where the writer said, else where the storage layout puts it. */
function localPath(written: VolumeWritten, storage: string): string {
  return existsSync(written.path) ? written.path : volumePathFor(storage, written.uid);
}

/** Focus score of a snapped image's first plane (a snap has exactly one). */
export async function focusScoreOfImage(written: VolumeWritten, storage: string): Promise<number> {
  const image = await readVolumeFile(localPath(written, storage));
  const [height, width] = image.shape.slice(-2) as [number, number];
  return focusScore({ width, height, data: image.data.subarray(0, width * height) });
}
