import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { GentlyError } from "@gently/protocol";
import { LAYOUT } from "@gently/storage";

/** Who writes the index: the running indexer, or a rebuild. Never both. */
export interface IndexLockOwner {
  holder: string;
  pid: number;
  host: string;
  since: string;
}

export interface IndexLock {
  path: string;
  owner: IndexLockOwner;
  release(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function readOwner(file: string): IndexLockOwner | null {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as IndexLockOwner;
  } catch {
    return null;
  }
}

/**
 * Takes `{storage}/index.lock` (created exclusively). A lock left by a dead
 * process on this host (an indexer killed with -9) is taken over; a live
 * holder, or one on another host, is refused with "conflict".
 */
export function acquireIndexLock(storage: string, holder: string): IndexLock {
  const file = path.join(storage, LAYOUT.lock);
  const owner: IndexLockOwner = { holder, pid: process.pid, host: os.hostname(), since: new Date().toISOString() };
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, "wx", 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const current = readOwner(file);
      const stale = current === null || (current.host === owner.host && !alive(current.pid));
      if (stale && attempt === 0) {
        unlinkSync(file);
        continue;
      }
      throw new GentlyError(
        "conflict",
        current
          ? `the index is held by ${current.holder} (pid ${current.pid} on ${current.host}) since ${current.since}; stop it first`
          : `the index lock ${file} is held`,
        undefined,
        current ?? undefined,
      );
    }
    writeSync(fd, JSON.stringify(owner));
    closeSync(fd);
    return {
      path: file,
      owner,
      release() {
        const current = readOwner(file);
        if (current && current.pid === owner.pid && current.since === owner.since) unlinkSync(file);
      },
    };
  }
  throw new GentlyError("conflict", `could not take the index lock ${file}`);
}
