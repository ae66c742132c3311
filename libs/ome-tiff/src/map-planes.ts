import { closeSync, openSync } from "node:fs";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import koffi, { type KoffiFunc } from "koffi";

const PROT_READ = 0x1;
const PROT_WRITE = 0x2;
const MAP_PRIVATE = 0x02;
const MAP_FIXED = 0x10;
const MAP_ANONYMOUS = 0x20;
const MAP_NORESERVE = 0x4000;
const MAP_POPULATE = 0x8000;
const SC_PAGESIZE = 30;
const MAP_FAILED = 0xffff_ffff_ffff_ffffn;
/** Mapped between turns of the event loop: populating is synchronous, a big volume must not hold the loop for long. */
const BYTES_PER_TURN = 64 << 20;

interface Libc {
  mmap: KoffiFunc<(addr: unknown, length: number, prot: number, flags: number, fd: number, offset: number) => unknown>;
  munmap: KoffiFunc<(addr: unknown, length: number) => number>;
  mprotect: KoffiFunc<(addr: unknown, length: number, prot: number) => number>;
  pageSize: number;
}

let libc: Libc | null | undefined;

function libcOf(): Libc | null {
  if (libc !== undefined) return libc;
  if (process.platform !== "linux") return (libc = null);
  try {
    const lib = koffi.load("libc.so.6");
    const sysconf = lib.func("long sysconf(int name)") as KoffiFunc<(name: number) => number>;
    libc = {
      mmap: lib.func("void *mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)"),
      munmap: lib.func("int munmap(void *addr, size_t length)"),
      mprotect: lib.func("int mprotect(void *addr, size_t length, int prot)"),
      pageSize: Number(sysconf(SC_PAGESIZE)),
    };
  } catch {
    libc = null;
  }
  return libc;
}

const unmapWhenCollected = new FinalizationRegistry<{ base: unknown; length: number }>(({ base, length }) => {
  libc?.munmap(base, length);
});

/**
 * The planes of a file, in the order given, as one ArrayBuffer: a private
 * mapping of each plane at consecutive addresses (Linux mmap with
 * MAP_FIXED | MAP_POPULATE), so the pixels come from the page cache without
 * a copy and every page is read in before this returns, as a read would.
 * Writes to the buffer stay private (copy on write, page by page). The mapping goes when
 * the buffer is collected. Null where planes cannot be mapped (not Linux,
 * an offset or size off the page grid, a mapping refused): read them
 * instead. The file must not be truncated while mapped (gently's volumes are
 * never changed once written).
 */
export async function mapPlanes(path: string, offsets: readonly number[], planeBytes: number): Promise<ArrayBuffer | null> {
  const c = libcOf();
  if (!c || offsets.length === 0 || planeBytes % c.pageSize !== 0 || offsets.some((o) => o % c.pageSize !== 0)) return null;
  const length = offsets.length * planeBytes;
  const fd = openSync(path, "r");
  // one reservation for the whole array, then each plane mapped over its part of it
  const base = c.mmap(null, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  const baseAddress = koffi.address(base);
  if (baseAddress === MAP_FAILED) {
    closeSync(fd);
    return null;
  }
  try {
    let sinceTurn = 0;
    for (const [i, offset] of offsets.entries()) {
      const at = koffi.as(baseAddress + BigInt(i * planeBytes), "void *");
      // Populated read-only: the page cache's pages are mapped as they are (writable, populating
      // would copy every page for copy-on-write); mprotect below makes them writable on demand.
      const mapped = c.mmap(at, planeBytes, PROT_READ, MAP_PRIVATE | MAP_FIXED | MAP_POPULATE, fd, offset);
      if (koffi.address(mapped) === MAP_FAILED) throw new Error(`mmap of plane ${i} failed`);
      sinceTurn += planeBytes;
      if (sinceTurn >= BYTES_PER_TURN) {
        sinceTurn = 0;
        await yieldToLoop();
      }
    }
    if (c.mprotect(base, length, PROT_READ | PROT_WRITE) !== 0) throw new Error("mprotect failed");
  } catch {
    c.munmap(base, length);
    return null;
  } finally {
    closeSync(fd);
  }
  const buffer = koffi.view(base, length) as ArrayBuffer;
  unmapWhenCollected.register(buffer, { base, length });
  return buffer;
}
