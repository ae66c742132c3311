import { open } from "node:fs/promises";
import koffi, { type KoffiFunc } from "koffi";
import type { SinkFileHandle } from "./sequential-writer";

/**
 * The writer's file on Windows. Full planes go from their ring slots straight
 * to the disk through a second, unbuffered write-through handle
 * (FILE_FLAG_NO_BUFFERING | FILE_FLAG_WRITE_THROUGH): no copy into the system
 * cache, no dirty cache for FlushFileBuffers to write at the end, on disk when
 * the write returns. Windows takes such a write only at a sector-aligned
 * offset, of whole sectors, from a sector-aligned address: the layout puts full
 * planes at 4096-byte offsets and ring slots are page-aligned. Everything else
 * (header, IFDs, small or odd planes, a write Windows refuses as unaligned)
 * goes through Node's buffered handle on the same file, at other offsets, and
 * the final fsync (FlushFileBuffers) covers it.
 */
interface Kernel32 {
  createFile: KoffiFunc<(path: string, access: number, share: number, security: null, disposition: number, flags: number, template: null) => unknown>;
  writeFile: KoffiFunc<(handle: unknown, data: Uint8Array, bytes: number, written: Uint32Array, overlapped: { Offset: number; OffsetHigh: number }) => number>;
  closeHandle: KoffiFunc<(handle: unknown) => number>;
}
let kernel32: Kernel32 | undefined;

function bind(): Kernel32 {
  if (kernel32) return kernel32;
  const lib = koffi.load("kernel32.dll");
  const handle = koffi.pointer("GENTLY_FILE_HANDLE", koffi.opaque());
  const overlapped = koffi.struct("GENTLY_OVERLAPPED", {
    Internal: "uintptr_t",
    InternalHigh: "uintptr_t",
    Offset: "uint32_t",
    OffsetHigh: "uint32_t",
    hEvent: "void *",
  });
  kernel32 = {
    createFile: lib.func("__stdcall", "CreateFileW", handle, ["str16", "uint32_t", "uint32_t", "void *", "uint32_t", "uint32_t", "void *"]) as Kernel32["createFile"],
    writeFile: lib.func("__stdcall", "WriteFile", "int", [handle, "void *", "uint32_t", koffi.out(koffi.pointer("uint32_t")), koffi.pointer(overlapped)]) as Kernel32["writeFile"],
    closeHandle: lib.func("__stdcall", "CloseHandle", "int", [handle]) as Kernel32["closeHandle"],
  };
  return kernel32;
}

const GENERIC_WRITE = 0x40000000;
const SHARE_ALL = 0x1 | 0x2 | 0x4; // read, write, delete: the buffered handle and the final move
const OPEN_EXISTING = 3;
const FILE_FLAG_NO_BUFFERING = 0x20000000;
const FILE_FLAG_WRITE_THROUGH = 0x80000000;
const INVALID_HANDLE_VALUE = 0xffffffffffffffffn;
/** Sector size of 4Kn disks, a multiple of 512e disks': the layout aligns full planes to it. */
const SECTOR_BYTES = 4096;
/** One WriteFile writes less than 4 GiB; planes are far smaller. */
const MAX_UNBUFFERED_BYTES = 1 << 30;

function handleValue(h: unknown): bigint {
  return h === null ? 0n : BigInt(koffi.address(h));
}

/** Writes `data` at `position` through the unbuffered handle; false if Windows refused it (not aligned). */
function writeUnbuffered(k: Kernel32, handle: unknown, data: Uint8Array, position: number): Promise<boolean> {
  const written = new Uint32Array(1);
  const at = { Offset: position % 2 ** 32, OffsetHigh: Math.floor(position / 2 ** 32) };
  return new Promise((resolve, reject) =>
    k.writeFile.async(handle, data, data.byteLength, written, at, (err: unknown, ok: number) => {
      if (err) reject(err);
      else resolve(ok !== 0 && written[0] === data.byteLength);
    }),
  );
}

function unbufferable(data: Uint8Array, position: number): boolean {
  return position % SECTOR_BYTES === 0 && data.byteLength % SECTOR_BYTES === 0 && data.byteLength > 0 && data.byteLength <= MAX_UNBUFFERED_BYTES;
}

export interface WindowsSinkFile extends SinkFileHandle {
  /** bytes that went to the disk through the unbuffered handle */
  readonly unbufferedBytes: number;
}

/** Creates `path` (never replacing a file) for the sink; Windows only. */
export async function openWindowsFile(path: string): Promise<WindowsSinkFile> {
  const buffered = await open(path, "wx", 0o644);
  const k = bind();
  const raw = k.createFile(path, GENERIC_WRITE, SHARE_ALL, null, OPEN_EXISTING, FILE_FLAG_NO_BUFFERING | FILE_FLAG_WRITE_THROUGH, null);
  const value = handleValue(raw);
  // No unbuffered handle (a filesystem that refuses one): every write is buffered.
  let direct: unknown = value === 0n || value === INVALID_HANDLE_VALUE ? null : raw;
  let unbufferedBytes = 0;
  return {
    get unbufferedBytes() {
      return unbufferedBytes;
    },
    async writev(buffers, position) {
      const first = buffers[0];
      if (direct && first && unbufferable(first, position)) {
        if (await writeUnbuffered(k, direct, first, position)) {
          unbufferedBytes += first.byteLength;
          return { bytesWritten: first.byteLength };
        }
      }
      // Up to the next plane that can go unbuffered: one buffered writev.
      let end = 1;
      let at = position + (first?.byteLength ?? 0);
      while (direct && end < buffers.length && !unbufferable(buffers[end], at)) at += buffers[end++].byteLength;
      if (!direct) end = buffers.length;
      return buffered.writev(buffers.slice(0, end), position);
    },
    sync: () => buffered.sync(),
    async close() {
      if (direct) k.closeHandle(direct);
      direct = null;
      await buffered.close();
    },
  };
}
