import { openSync, closeSync, readFileSync, writeFileSync } from "node:fs";
import { appendFile } from "node:fs/promises";
import path from "node:path";
import koffi from "koffi";
import { afterAll, describe, expect, it } from "vitest";
import { tempStorage, waitFor } from "@gently/testing";
import { WriteBehind } from "./write-behind";

const SYS_CACHESTAT = 451; // x86_64 and arm64, Linux ≥ 6.5
const syscall = koffi.load("libc.so.6").func("long syscall(long number, ...)");

/** Dirty pages of one file in the page cache (cachestat(2)); null where the kernel lacks it. */
function dirtyPagesOf(file: string): number | null {
  const fd = openSync(file, "r");
  try {
    const range = new BigUint64Array(2); // offset 0, length 0 = the whole file
    const stat = new BigUint64Array(5); // nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted
    const rc = syscall(SYS_CACHESTAT, "uint", fd, "void *", range, "void *", stat, "uint", 0) as number;
    return rc === 0 ? Number(stat[1]) : null;
  } finally {
    closeSync(fd);
  }
}

describe("write-behind", () => {
  const storage = tempStorage();
  afterAll(() => storage.remove());

  /** Appends 64 MiB in 8 MiB pieces, as planes arrive; with write-behind when asked. */
  async function appendAll(file: string, writeBehindEvery?: number): Promise<Buffer> {
    writeFileSync(file, "");
    const wb = writeBehindEvery === undefined ? undefined : await WriteBehind.open(file, writeBehindEvery);
    const chunk = Buffer.alloc(8 << 20);
    for (let i = 0; i < chunk.length; i += 4096) chunk.writeUInt32LE(i + 1, i);
    for (let i = 0; i < 8; i++) {
      await appendFile(file, chunk);
      wb?.appended(chunk.length);
    }
    await wb?.close();
    return chunk;
  }

  const probe = path.join(storage.dir, "probe.bin");
  writeFileSync(probe, "x");
  const hasCachestat = dirtyPagesOf(probe) !== null;

  it.skipIf(!hasCachestat)("sends what was appended to the disk before any fsync; without it the pages stay dirty", async () => {
    const plain = path.join(storage.dir, "plain.bin");
    await appendAll(plain);
    // The kernel's own writeback waits 30 s (dirty_expire_centisecs) for a file this small.
    expect(dirtyPagesOf(plain)).toBeGreaterThan(8192);

    const file = path.join(storage.dir, "volume.bin");
    const chunk = await appendAll(file, 16 << 20);
    // Kicked every 16 MiB (a kick still running skips one): the last stretches may stay dirty, not the file.
    await waitFor(() => dirtyPagesOf(file)! < 8192, 5_000, "most of the file's pages leaving the dirty state");
    const back = readFileSync(file);
    expect(back.length).toBe(64 << 20);
    expect(back.subarray(40 << 20, (40 << 20) + chunk.length).equals(chunk)).toBe(true);
  });
});
