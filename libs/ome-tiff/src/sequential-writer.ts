import { xxh3 } from "@node-rs/xxhash";
import type { StreamingWriteback } from "./writeback";

/** The part of a file handle the sink needs; injectable so tests can simulate ENOSPC mid-write. */
export interface SinkFileHandle {
  /** Writes at `position`: front to back, except the OME-XML's region at the end, written once ahead at open. */
  writev(buffers: Uint8Array[], position: number): Promise<{ bytesWritten: number }>;
  /** The descriptor, where there is one: lets the sink stream the file's pages to the disk as it grows. */
  readonly fd?: number;
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** Chunks smaller than this are copied into the staging buffer; larger ones go to the kernel as-is. */
export const PASS_THROUGH_BYTES = 1 << 20;
const STAGING_BYTES = 4 << 20;

/**
 * Appends bytes to a file strictly sequentially, hashing them (xxh3-64) in the same order.
 * Small pieces (IFDs, small planes) are coalesced into a staging buffer so the kernel sees large
 * writes; large pieces are passed through without a copy, together with the staged bytes in one
 * writev. Memory use is the staging buffer, independent of volume size (and, with a writeback, the
 * pages it keeps in the cache, likewise bounded).
 */
export class SequentialWriter {
  private readonly staging = Buffer.allocUnsafe(STAGING_BYTES);
  private staged = 0;
  /** File offset of the first staged byte: everything before it was handed to the kernel. */
  private position = 0;
  private readonly hash = xxh3.Xxh3.withSeed(0n);
  /** Bytes accepted (staged or written). */
  bytesAccepted = 0;

  /** With `writeback`, every write is reported to it, and waits for its room first. */
  constructor(
    private readonly fh: SinkFileHandle,
    private readonly writeback?: StreamingWriteback,
  ) {}

  /**
   * Accepts `chunk`. A chunk at or above the pass-through size is written before this resolves (so the
   * caller may reuse it afterwards); smaller chunks are copied and may be written later.
   */
  async append(chunk: Uint8Array): Promise<void> {
    this.bytesAccepted += chunk.length;
    if (chunk.length < PASS_THROUGH_BYTES) {
      this.hash.update(chunk);
      if (this.staged + chunk.length > STAGING_BYTES) await this.flush();
      this.staging.set(chunk, this.staged);
      this.staged += chunk.length;
      return;
    }
    const bufs = this.staged > 0 ? [this.staging.subarray(0, this.staged), chunk] : [chunk];
    const at = this.position;
    this.position += this.staged + chunk.length;
    this.staged = 0;
    // The kernel copies the chunk on a libuv thread while this thread hashes it: both only read it.
    const written = this.writeAll(bufs, at);
    try {
      this.hash.update(chunk);
    } finally {
      await written;
    }
  }

  async flush(): Promise<void> {
    if (this.staged === 0) return;
    const bufs = [this.staging.subarray(0, this.staged)];
    const at = this.position;
    this.position += this.staged;
    this.staged = 0;
    await this.writeAll(bufs, at);
  }

  /** xxh3-64 of every byte appended so far, as 16 lowercase hex digits. */
  digestHex(): string {
    return this.hash.digest().toString(16).padStart(16, "0");
  }

  /** writev may write less than asked (signals, >2 GiB, the last bytes before ENOSPC): keep going. */
  private async writeAll(bufs: Uint8Array[], position: number): Promise<void> {
    let pending = bufs;
    let at = position;
    await this.writeback?.room();
    for (;;) {
      const want = pending.reduce((n, b) => n + b.length, 0);
      if (want === 0) return;
      const { bytesWritten } = await this.fh.writev(pending, at);
      this.writeback?.written(at, bytesWritten);
      if (bytesWritten === want) return;
      if (bytesWritten <= 0) throw Object.assign(new Error("write made no progress"), { code: "EIO" });
      at += bytesWritten;
      let skip = bytesWritten;
      const rest: Uint8Array[] = [];
      for (const b of pending) {
        if (skip >= b.length) skip -= b.length;
        else {
          rest.push(skip > 0 ? b.subarray(skip) : b);
          skip = 0;
        }
      }
      pending = rest;
    }
  }
}
