import { link, open, rename, statfs, unlink } from "node:fs/promises";
import koffi, { type KoffiFunc } from "koffi";

/**
 * The calls of kernel32 the Windows paths need. Node's fsync is already
 * FlushFileBuffers there; what Node lacks is a rename that is durable by
 * itself and never replaces, and the free space as Windows counts it.
 */
interface Kernel32 {
  moveFileEx: KoffiFunc<(from: string, to: string, flags: number) => number>;
  getDiskFreeSpaceEx: KoffiFunc<(dir: string, freeToCaller: BigUint64Array, total: BigUint64Array, free: BigUint64Array) => number>;
  getLastError: KoffiFunc<() => number>;
}
let kernel32: Kernel32 | undefined;

function windows(): Kernel32 {
  if (kernel32) return kernel32;
  const lib = koffi.load("kernel32.dll");
  kernel32 = {
    moveFileEx: lib.func("int __stdcall MoveFileExW(str16 existing, str16 target, uint32_t flags)") as Kernel32["moveFileEx"],
    getDiskFreeSpaceEx: lib.func(
      "int __stdcall GetDiskFreeSpaceExW(str16 dir, _Out_ uint64_t *freeToCaller, _Out_ uint64_t *total, _Out_ uint64_t *free)",
    ) as Kernel32["getDiskFreeSpaceEx"],
    getLastError: lib.func("uint32_t __stdcall GetLastError()") as Kernel32["getLastError"],
  };
  return kernel32;
}

/** MoveFileExW: returns only once the move is on disk. Without MOVEFILE_REPLACE_EXISTING it never replaces. */
const MOVEFILE_WRITE_THROUGH = 0x8;
const ERROR_FILE_EXISTS = 80;
const ERROR_ALREADY_EXISTS = 183;
/**
 * Another process has the file open without sharing delete: on a Windows
 * PC, typically a virus scanner or the search indexer looking at a file
 * just closed. They let go within moments, so the move is tried again.
 */
const TRANSIENT = new Set([5 /* ERROR_ACCESS_DENIED */, 32 /* ERROR_SHARING_VIOLATION */, 33 /* ERROR_LOCK_VIOLATION */]);
const TRANSIENT_RETRY_MS = 50;
const TRANSIENT_GIVE_UP_MS = 5_000;

const isWindows = process.platform === "win32";

/**
 * fsyncs a directory, so a rename, link or unlink in it survives a power cut.
 * On Windows a directory cannot be flushed from Node, and need not be: every
 * move there goes through moveDurable (MOVEFILE_WRITE_THROUGH), which returns
 * only once the move is on disk.
 */
export async function fsyncDir(dir: string): Promise<void> {
  if (isWindows) return;
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function moveFailed(from: string, to: string, code: number): NodeJS.ErrnoException {
  const exists = code === ERROR_ALREADY_EXISTS || code === ERROR_FILE_EXISTS;
  const err: NodeJS.ErrnoException = new Error(
    exists ? `EEXIST: ${to} already exists, not moving ${from} onto it` : `moving ${from} to ${to} failed (Windows error ${code})`,
  );
  err.code = exists ? "EEXIST" : "EIO";
  err.path = from;
  return err;
}

/** Windows: one MoveFileExW, atomic, never replacing `to`, on disk when it returns; retried while another process holds the file. */
async function moveWindows(from: string, to: string): Promise<void> {
  const k = windows();
  const giveUpAt = Date.now() + TRANSIENT_GIVE_UP_MS;
  for (;;) {
    if (k.moveFileEx(from, to, MOVEFILE_WRITE_THROUGH)) return;
    const code = k.getLastError();
    if (!TRANSIENT.has(code) || Date.now() >= giveUpAt) throw moveFailed(from, to, code);
    await new Promise((resolve) => setTimeout(resolve, TRANSIENT_RETRY_MS));
  }
}

/**
 * Moves `from` to `to` on the same filesystem without ever replacing an
 * existing `to` (rename would): link, then unlink the old name (on Windows
 * one MoveFileExW without replace). Rejects with EEXIST, leaving `from` in
 * place, when `to` exists. The caller fsyncs the directories involved.
 */
export async function moveNoReplace(from: string, to: string): Promise<void> {
  if (isWindows) return moveWindows(from, to);
  await link(from, to);
  await unlink(from);
}

/**
 * Puts a finished file in place: rename, after the caller checked `to` is
 * absent (no writer but this one names files in its directory). On Windows
 * MoveFileExW with write-through and without replace: atomic, durable on
 * return, and EEXIST rather than replacing a file that appeared meanwhile.
 * The caller fsyncs the directories (a no-op on Windows).
 */
export async function moveIntoPlace(from: string, to: string): Promise<void> {
  if (isWindows) return moveWindows(from, to);
  await rename(from, to);
}

/** Bytes this process may still write on the filesystem of `dir` (GetDiskFreeSpaceExW on Windows, statfs elsewhere). */
export async function freeBytes(dir: string): Promise<number> {
  if (isWindows) {
    const k = windows();
    const toCaller = new BigUint64Array(1);
    if (!k.getDiskFreeSpaceEx(dir, toCaller, new BigUint64Array(1), new BigUint64Array(1))) {
      throw new Error(`free space of ${dir}: GetDiskFreeSpaceExW failed (Windows error ${k.getLastError()})`);
    }
    return Number(toCaller[0]);
  }
  const fs = await statfs(dir);
  return fs.bavail * fs.bsize;
}
