import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { freeBytes } from "@gently/ome-tiff";
import { GentlyError } from "@gently/protocol";

interface Reservation {
  plannedBytes: number;
  tempPath: string;
}

/**
 * Bytes a file occupies on the disk, at most its size. A partial volume is
 * sparse on POSIX (its OME-XML is written at its end when it opens), so its
 * size says nothing about what it has yet to write; its allocated blocks do.
 * Where there are no block counts (Windows), the file was allocated up to its size.
 */
async function allocatedOrZero(file: string): Promise<number> {
  try {
    const st = await stat(file);
    return Number.isFinite(st.blocks) && st.blocks > 0 ? Math.min(st.size, st.blocks * 512) : st.size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw err;
  }
}

/** Bytes of the regular files directly in `dir`, except those in `skip`. */
async function filesBytes(dir: string, skip: ReadonlySet<string>): Promise<number> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw err;
  }
  let total = 0;
  for (const e of entries) {
    const file = path.join(dir, e.name);
    if (e.isFile() && !skip.has(file)) total += await allocatedOrZero(file);
  }
  return total;
}

/**
 * Decides at begin whether a volume fits, so the hardware can refuse the
 * sequence before any light reaches the sample. Volumes being written hold a
 * reservation of their full planned size: two acquisitions cannot both be
 * admitted into the space for one.
 */
export class StorageBudget {
  private readonly reservations = new Map<string, Reservation>();

  constructor(
    private readonly volumesDir: string,
    private readonly quarantineDir: string,
    private readonly quotaBytes?: number,
    /** free bytes no volume may take: JetStream's store, the index and the logs need them when they share the disk */
    private readonly reserveBytes = 0,
  ) {}

  /**
   * Reserves room for a volume whose sink is open (its exact size known), or
   * throws GentlyError disk_full naming what is needed and what is left.
   */
  async admit(uid: string, plannedBytes: number, tempPath: string): Promise<void> {
    const others = [...this.reservations.values()];
    const reservedElsewhere = others.reduce((n, r) => n + r.plannedBytes, 0);
    if (this.quotaBytes !== undefined) {
      const skip = new Set([tempPath, ...others.map((r) => r.tempPath)]);
      const used = (await filesBytes(this.volumesDir, skip)) + (await filesBytes(this.quarantineDir, skip));
      const left = this.quotaBytes - used - reservedElsewhere;
      if (plannedBytes > left) {
        throw new GentlyError(
          "disk_full",
          `volume needs ${plannedBytes} bytes; the storage quota (GENTLY_STORAGE_QUOTA_BYTES=${this.quotaBytes}) has ${Math.max(0, left)} left`,
        );
      }
    }
    // Free space must also cover what the volumes already admitted have yet to write.
    let pendingElsewhere = 0;
    for (const r of others) pendingElsewhere += Math.max(0, r.plannedBytes - (await allocatedOrZero(r.tempPath)));
    const free = await freeBytes(this.volumesDir);
    const pendingHere = Math.max(0, plannedBytes - (await allocatedOrZero(tempPath)));
    if (pendingHere + pendingElsewhere + this.reserveBytes > free) {
      throw new GentlyError(
        "disk_full",
        `volume needs ${pendingHere} more bytes; ${free} free on the filesystem of ${this.volumesDir}, ${pendingElsewhere} of them promised to volumes being written ` +
          `and ${this.reserveBytes} kept free for JetStream and the index (GENTLY_WRITER_RESERVE_BYTES)`,
      );
    }
    this.reservations.set(uid, { plannedBytes, tempPath });
  }

  release(uid: string): void {
    this.reservations.delete(uid);
  }
}
