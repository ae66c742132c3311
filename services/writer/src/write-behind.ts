import { open, type FileHandle } from "node:fs/promises";
import koffi, { type KoffiFunc } from "koffi";

/** sync_file_range(2): start writeback of the range's dirty pages, wait for nothing. */
const SYNC_FILE_RANGE_WRITE = 2;

type SyncFileRange = KoffiFunc<(fd: number, offset: number, nbytes: number, flags: number) => number>;
let syncFileRange: SyncFileRange | null | undefined;

function bind(): SyncFileRange | null {
  if (syncFileRange !== undefined) return syncFileRange;
  try {
    const libc = koffi.load("libc.so.6");
    syncFileRange = libc.func("int sync_file_range(int fd, int64_t offset, int64_t nbytes, unsigned int flags)") as SyncFileRange;
  } catch {
    // Not glibc Linux: the page cache is written back by the kernel's own timers and the final fsync.
    syncFileRange = null;
  }
  return syncFileRange;
}

/**
 * Starts the disk writes of a file being appended while it is still being
 * written (write-behind), instead of leaving every byte dirty in the page
 * cache until the fsync at finalize. The disk then works while frames still
 * arrive, the final fsync has only the last stretch left, and a long
 * acquisition never piles up gigabytes of dirty memory for the kernel to
 * throttle. Durability still comes only from that fsync; a failed kick is
 * ignored. One kick runs at a time, on a worker thread (it may wait for a
 * congested disk queue).
 */
export class WriteBehind {
  private fh: FileHandle | undefined;
  private pending = 0;
  private running = false;
  private closed = false;

  private constructor(private readonly everyBytes: number) {}

  /** Opens its own descriptor of `file`; without sync_file_range or the file it does nothing. */
  static async open(file: string, everyBytes: number): Promise<WriteBehind> {
    const wb = new WriteBehind(everyBytes);
    if (bind()) wb.fh = await open(file, "r").catch(() => undefined);
    return wb;
  }

  /** Counts bytes appended to the file; each `everyBytes` starts the writeback of all that is dirty. */
  appended(bytes: number): void {
    if (!this.fh || this.closed) return;
    this.pending += bytes;
    if (this.pending < this.everyBytes || this.running) return;
    this.pending = 0;
    this.running = true;
    // offset 0, nbytes 0: the whole file; pages already under writeback are skipped.
    bind()!.async(this.fh.fd, 0, 0, SYNC_FILE_RANGE_WRITE, () => {
      this.running = false;
      if (this.closed) void this.release();
    });
  }

  /** Stops kicking and closes the descriptor (once a running kick returned). */
  async close(): Promise<void> {
    this.closed = true;
    if (!this.running) await this.release();
  }

  private async release(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close().catch(() => undefined);
  }
}
