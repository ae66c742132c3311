import { constants } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";

/** O_DIRECT needs file offset, length and memory address aligned to the logical block; a page covers every common disk. */
export const DIRECT_ALIGN_BYTES = 4096;

/**
 * A second descriptor of a file opened with O_DIRECT: large aligned chunks (planes in shared-memory
 * ring slots) go from their memory to the disk without a copy into the page cache, which saves the
 * CPU of that copy and the dirty-page writeback that competes with the next frames.
 */
export class DirectFile {
  private constructor(private readonly fh: FileHandle) {}

  /** undefined where the platform or filesystem has no O_DIRECT (tmpfs, macOS): callers stay buffered. */
  static async open(path: string): Promise<DirectFile | undefined> {
    const flag = (constants as Record<string, number | undefined>).O_DIRECT;
    if (!flag) return undefined;
    try {
      return new DirectFile(await open(path, constants.O_WRONLY | flag));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EINVAL") return undefined;
      throw err;
    }
  }

  /**
   * Writes `chunk` at `position` and returns how many bytes went to the file. Fewer than asked
   * (possibly 0) when the chunk's memory is not aligned (EINVAL) or the kernel stopped early: the
   * caller writes the rest through its buffered descriptor. Other errors (ENOSPC, EIO) are thrown.
   */
  async write(chunk: Uint8Array, position: number): Promise<number> {
    if (position % DIRECT_ALIGN_BYTES !== 0 || chunk.length % DIRECT_ALIGN_BYTES !== 0) return 0;
    let done = 0;
    while (done < chunk.length) {
      let n: number;
      try {
        ({ bytesWritten: n } = await this.fh.write(chunk, done, chunk.length - done, position + done));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "EINVAL") return done;
        throw err;
      }
      // A short O_DIRECT write may end off the block grid; the buffered path takes over from there.
      if (n <= 0 || n % DIRECT_ALIGN_BYTES !== 0) return done + Math.max(n, 0);
      done += n;
    }
    return done;
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}
