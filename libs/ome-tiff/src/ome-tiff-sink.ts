import { open as fsOpen, stat, unlink } from "node:fs/promises";
import { endianness } from "node:os";
import { dirname, join, resolve } from "node:path";
import { freeBytes, fsyncDir, moveIntoPlace } from "./durable-fs";
import { SinkError, toSinkError } from "./errors";
import { partialFileName } from "./leftovers";
import { randomUUID } from "node:crypto";
import { bytesPerSample, parseVolumeMeta, planeCount, volumeShape, type PlanePosition, type VolumeMeta, type VolumeMetaInput } from "./meta";
import { buildOmeXml, PLANE_POSITIONS_MAX_BYTES_FIXED, PLANE_POSITIONS_MAX_BYTES_PER_PLANE } from "./ome-xml";
import { PASS_THROUGH_BYTES, SequentialWriter, type SinkFileHandle } from "./sequential-writer";
import type { SinkResult, VolumeSink } from "./sink";
import { computeLayout, encodeDescription, encodeHeader, encodeIfd, type TiffLayout } from "./tiff-layout";
import { StreamingWriteback, WRITEBACK_WINDOW_BYTES } from "./writeback";
import { openWindowsFile } from "./windows-file";

export const SOFTWARE = "gently";
/** Planes start at multiples of this (one memory page). */
export const PLANE_ALIGN_BYTES = 4096;

export interface OmeTiffSinkOptions {
  /** Where the finished file appears, e.g. ".../embryo_0001.ome.tif". Never overwritten. */
  finalPath: string;
  /** Directory for the partial file; defaults to the final directory and must be on the same filesystem. */
  tmpDir?: string;
  /** Write BigTIFF even when classic TIFF would do (otherwise chosen when the file would pass 4 GiB). */
  forceBigTiff?: boolean;
  /** Storage quota for this file: open() refuses with disk_full if the planned file is larger. */
  maxBytes?: number;
  /** Rows per TIFF strip; defaults to the whole plane as one strip. */
  rowsPerStrip?: number;
  /** Refuse at open() when the filesystem lacks room for the whole planned file (default true). */
  checkFreeSpace?: boolean;
  /**
   * Start planes of at least 1 MiB and a multiple of 4096 bytes at 4096-aligned offsets (default true;
   * the IFD before each is zero-padded): a reader can map such a plane page by page, and the
   * writeback of each plane covers whole pages. false packs the planes back to back.
   */
  alignPlanes?: boolean;
  /**
   * Stream the file to the disk while it is written, keeping at most about two windows of it in the
   * page cache (default 128 MiB; 0 leaves the writeback to the kernel and the final fsync). See
   * StreamingWriteback.
   */
  writebackWindowBytes?: number;
  /**
   * Write the planned OME-XML into its region at the end of the file at open, so a partial file names
   * its volume (default: everywhere but Windows). Elsewhere the file is sparse up to that region; NTFS
   * would instead fill the whole gap with zeros at once, writing the volume twice.
   */
  prewriteDescription?: boolean;
  /** Opens the temp file for exclusive creation; replaceable to simulate I/O failures. */
  openFile?: (path: string) => Promise<SinkFileHandle>;
}

export interface OmeTiffSinkResult extends SinkResult {
  format: "ome-tiff";
  bigTiff: boolean;
  planes: number;
}

type State = "new" | "opening" | "open" | "finalizing" | "finalized" | "failed" | "aborted";

// Windows: planes unbuffered and write-through from their ring slots (windows-file.ts).
const defaultOpenFile = (path: string): Promise<SinkFileHandle> => (process.platform === "win32" ? openWindowsFile(path) : fsOpen(path, "wx", 0o644));

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}

/** OME-TIFF implementation of VolumeSink; see README.md for the file layout and guarantees. */
export class OmeTiffSink implements VolumeSink<OmeTiffSinkResult> {
  readonly format = "ome-tiff";
  readonly finalPath: string;
  private readonly tmpDir: string;
  private readonly opts: OmeTiffSinkOptions;
  private state: State = "new";
  private failure: SinkError | undefined;
  private meta: VolumeMeta | undefined;
  private layout: TiffLayout | undefined;
  private fh: SinkFileHandle | undefined;
  private writeback: StreamingWriteback | undefined;
  private writer: SequentialWriter | undefined;
  private partialPath: string | undefined;
  private planesQueued = 0;
  private planesWrittenCount = 0;
  /** The OME document's UUID, the same in the partial's XML and the final one. */
  private readonly uuid = `urn:uuid:${randomUUID()}`;
  /** Each plane's sheet position as appendPlane received it, for the final OME-XML. */
  private planePositions: Array<PlanePosition | undefined> = [];
  /** Serializes every file operation; appendPlane callers need not await one call before the next. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(options: OmeTiffSinkOptions) {
    this.opts = options;
    this.finalPath = resolve(options.finalPath);
    this.tmpDir = resolve(options.tmpDir ?? dirname(this.finalPath));
  }

  /** Path of the partial file once open() has created it. */
  get tempPath(): string | undefined {
    return this.partialPath;
  }
  get planesWritten(): number {
    return this.planesWrittenCount;
  }
  /** Exact size of the finished file, known from open(). */
  get plannedBytes(): number | undefined {
    return this.layout?.totalBytes;
  }
  /** Bytes written but not yet confirmed on disk by the streaming writeback (0 without one). */
  get unconfirmedBytes(): number {
    return this.writeback?.unconfirmedBytes ?? 0;
  }
  get bigTiff(): boolean | undefined {
    return this.layout?.bigTiff;
  }

  async open(metaInput: VolumeMetaInput): Promise<void> {
    if (this.state !== "new") throw new SinkError("bad_state", `open() called on a sink that is ${this.state}`);
    this.state = "opening";
    try {
      await this.doOpen(metaInput);
      this.state = "open";
    } catch (err) {
      const e = toSinkError(err, "opening OME-TIFF sink");
      await this.cleanupAfterFailedOpen();
      this.state = "failed";
      this.failure = e;
      throw e;
    }
  }

  private async doOpen(metaInput: VolumeMetaInput): Promise<void> {
    if (endianness() !== "LE") throw new SinkError("io", "the OME-TIFF sink writes little-endian files and needs a little-endian host");
    const meta = parseVolumeMeta(metaInput);
    const finalDir = dirname(this.finalPath);
    const [finalDirStat, tmpDirStat] = await Promise.all([
      stat(finalDir).catch((e) => Promise.reject(toSinkError(e, `final directory ${finalDir}`))),
      stat(this.tmpDir).catch((e) => Promise.reject(toSinkError(e, `temp directory ${this.tmpDir}`))),
    ]);
    if (!finalDirStat.isDirectory()) throw new SinkError("no_directory", `${finalDir} is not a directory`);
    if (!tmpDirStat.isDirectory()) throw new SinkError("no_directory", `${this.tmpDir} is not a directory`);
    if (finalDirStat.dev !== tmpDirStat.dev) {
      throw new SinkError("cross_device", `tmpDir ${this.tmpDir} is on another filesystem than ${finalDir}; rename would not be atomic`);
    }
    if (await exists(this.finalPath)) throw new SinkError("exists", `${this.finalPath} already exists`);

    // The XML at open has the planned positions; finalize rewrites it with the recorded ones, so the
    // region is sized for the longest XML that can then be.
    const description = Buffer.from(buildOmeXml(meta, SOFTWARE, { uuid: this.uuid }), "latin1");
    const descriptionBytes = description.length + 1 + PLANE_POSITIONS_MAX_BYTES_FIXED + planeCount(meta) * PLANE_POSITIONS_MAX_BYTES_PER_PLANE;
    const rowsPerStrip = this.opts.rowsPerStrip ?? meta.size_y;
    if (!Number.isInteger(rowsPerStrip) || rowsPerStrip < 1) throw new SinkError("bad_meta", `rowsPerStrip must be a positive integer, got ${rowsPerStrip}`);
    const planeBytes = meta.size_x * meta.size_y * bytesPerSample(meta.dtype);
    // Smaller planes are coalesced in the staging buffer anyway; padding them would only cost space.
    const aligned = (this.opts.alignPlanes ?? true) && planeBytes >= PASS_THROUGH_BYTES && planeBytes % PLANE_ALIGN_BYTES === 0;
    const layout = computeLayout({
      width: meta.size_x,
      height: meta.size_y,
      bytesPerSample: bytesPerSample(meta.dtype) as 1 | 2,
      planes: planeCount(meta),
      rowsPerStrip: Math.min(rowsPerStrip, meta.size_y),
      descriptionBytes,
      software: SOFTWARE,
      forceBigTiff: this.opts.forceBigTiff ?? false,
      alignBytes: aligned ? PLANE_ALIGN_BYTES : undefined,
    });
    if (this.opts.maxBytes !== undefined && layout.totalBytes > this.opts.maxBytes) {
      throw new SinkError("disk_full", `volume needs ${layout.totalBytes} bytes, over the ${this.opts.maxBytes}-byte quota`);
    }
    if (this.opts.checkFreeSpace ?? true) {
      const free = await freeBytes(this.tmpDir);
      if (free < layout.totalBytes) {
        throw new SinkError("disk_full", `volume needs ${layout.totalBytes} bytes, ${free} free on the filesystem of ${this.tmpDir}`);
      }
    }

    this.meta = meta;
    this.layout = layout;
    this.partialPath = join(this.tmpDir, partialFileName(meta.uid, this.finalPath));
    this.fh = await (this.opts.openFile ?? defaultOpenFile)(this.partialPath);
    const window = this.opts.writebackWindowBytes ?? WRITEBACK_WINDOW_BYTES;
    if (window > 0 && this.fh.fd !== undefined) this.writeback = StreamingWriteback.for(this.fh.fd, window);
    this.writer = new SequentialWriter(this.fh, this.writeback);
    await this.writer.append(encodeHeader(layout));
    await this.writer.append(encodeIfd(layout, 0));
    await this.writer.flush();
    if (!(this.opts.prewriteDescription ?? process.platform !== "win32")) return;
    // The XML's region at the end of the file gets its final bytes from finalize (in order, so the
    // streaming checksum covers them); a copy now lets a crash still leave a partial file that
    // names its volume.
    const region = encodeDescription(layout, description);
    let at = 0;
    while (at < region.length) {
      const { bytesWritten } = await this.fh.writev([region.subarray(at)], layout.descriptionOffset + at);
      if (bytesWritten <= 0) throw Object.assign(new Error("write made no progress"), { code: "EIO" });
      at += bytesWritten;
    }
  }

  private async cleanupAfterFailedOpen(): Promise<void> {
    const fh = await this.takeFile();
    if (fh) await fh.close().catch(() => undefined);
    // Only delete what this sink created: partialPath is set just before the exclusive create.
    if (fh && this.partialPath) await unlink(this.partialPath).catch(() => undefined);
  }

  /** `position`: where the sheet was for this plane (its OME Plane's PositionZ and DeltaT, and the galvo angle). */
  appendPlane(plane: ArrayBufferView, position?: PlanePosition): Promise<void> {
    try {
      this.assertUsable("appendPlane");
      const meta = this.meta!;
      const layout = this.layout!;
      if (this.planesQueued >= layout.planes) {
        throw new SinkError("plane_count", `all ${layout.planes} planned planes (z${meta.size_z} × c${meta.size_c} × t${meta.size_t}) were already appended`);
      }
      if (plane.byteLength !== layout.planeBytes) {
        throw new SinkError(
          "bad_plane",
          `plane ${this.planesQueued} has ${plane.byteLength} bytes, expected ${layout.planeBytes} (${meta.size_x}×${meta.size_y} ${meta.dtype})`,
        );
      }
    } catch (err) {
      return Promise.reject(err);
    }
    const index = this.planesQueued++;
    this.planePositions[index] = position;
    const bytes = new Uint8Array(plane.buffer, plane.byteOffset, plane.byteLength);
    return this.enqueue(async () => {
      if (this.state !== "open") throw this.failure ?? new SinkError("bad_state", `sink is ${this.state}`);
      const layout = this.layout!;
      try {
        if (index > 0) await this.writer!.append(encodeIfd(layout, index));
        await this.writer!.append(bytes);
        if (layout.planeSlotBytes > layout.planeBytes) await this.writer!.append(new Uint8Array(1));
        this.planesWrittenCount++;
      } catch (err) {
        throw this.fail(err, `writing plane ${index}`);
      }
    });
  }

  finalize(): Promise<OmeTiffSinkResult> {
    try {
      this.assertUsable("finalize");
    } catch (err) {
      return Promise.reject(err);
    }
    return this.enqueue(async () => {
      if (this.state !== "open") throw this.failure ?? new SinkError("bad_state", `sink is ${this.state}`);
      const layout = this.layout!;
      const meta = this.meta!;
      if (this.planesWrittenCount !== layout.planes) {
        // Recoverable: the caller may still append the missing planes, or abort.
        throw new SinkError("plane_count", `finalize() after ${this.planesWrittenCount} of ${layout.planes} planned planes`);
      }
      this.state = "finalizing";
      try {
        const xml = buildOmeXml(meta, SOFTWARE, { uuid: this.uuid, planePositions: this.planePositions });
        await this.writer!.append(encodeDescription(layout, Buffer.from(xml, "latin1")));
        await this.writer!.flush();
        if (this.writer!.bytesAccepted !== layout.totalBytes) {
          throw new SinkError("io", `internal layout error: wrote ${this.writer!.bytesAccepted} bytes, planned ${layout.totalBytes}`);
        }
        await this.writeback?.drain();
        await this.fh!.sync();
        const fh = (await this.takeFile())!;
        await fh.close();
        // rename() would replace an existing file; data is never overwritten.
        if (await exists(this.finalPath)) throw new SinkError("exists", `${this.finalPath} appeared while writing; partial kept at ${this.partialPath}`);
        await moveIntoPlace(this.partialPath!, this.finalPath);
        await fsyncDir(dirname(this.finalPath));
        if (this.tmpDir !== dirname(this.finalPath)) await fsyncDir(this.tmpDir);
      } catch (err) {
        throw this.fail(err, "finalizing");
      }
      this.state = "finalized";
      const { shape, axes } = volumeShape(meta);
      return {
        format: "ome-tiff" as const,
        path: this.finalPath,
        bytes: layout.totalBytes,
        checksum: { algorithm: "xxh3-64" as const, hex: this.writer!.digestHex() },
        shape,
        axes,
        dtype: meta.dtype,
        bigTiff: layout.bigTiff,
        planes: layout.planes,
      };
    });
  }

  async abort(options?: { keep?: boolean }): Promise<void> {
    if (this.state === "aborted" || this.state === "new") {
      this.state = "aborted";
      return;
    }
    if (this.state === "finalized") throw new SinkError("bad_state", "abort() after finalize(): the file is complete");
    if (this.state === "opening") throw new SinkError("bad_state", "abort() while open() is running; await open() first");
    // Let an in-flight write settle first so the handle is not closed under it.
    await this.chain.catch(() => undefined);
    // A finalize() queued before this abort may have completed meanwhile.
    if ((this.state as State) === "finalized") throw new SinkError("bad_state", "abort() after finalize(): the file is complete");
    this.state = "aborted";
    // A kept partial should hold every plane accepted so far; staged small planes are still in memory.
    if (this.fh && options?.keep && this.writer) await this.writer.flush().catch(() => undefined);
    const fh = await this.takeFile();
    if (fh) await fh.close().catch(() => undefined);
    if (!options?.keep && this.partialPath) {
      await unlink(this.partialPath).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== "ENOENT") throw toSinkError(err, `deleting ${this.partialPath}`);
      });
    }
  }

  /** Takes the file handle for closing, once no writeback call can still use its descriptor. */
  private async takeFile(): Promise<SinkFileHandle | undefined> {
    await this.writeback?.drain();
    this.writeback = undefined;
    const fh = this.fh;
    this.fh = undefined;
    return fh;
  }

  private assertUsable(op: string): void {
    if (this.state === "failed") throw this.failure!;
    if (this.state === "new" || this.state === "opening") throw new SinkError("bad_state", `${op}() before open() completed`);
    if (this.state !== "open") throw new SinkError("bad_state", `${op}() on a sink that is ${this.state}`);
  }

  private fail(err: unknown, doing: string): SinkError {
    const e = toSinkError(err, `${doing} ${this.partialPath}`);
    this.state = "failed";
    this.failure = e;
    return e;
  }

  private enqueue<T>(op: () => Promise<T>): Promise<T> {
    const run = this.chain.then(op, op);
    this.chain = run.catch(() => undefined);
    return run;
  }
}

/** Creates an OME-TIFF sink and opens it with `meta`. */
export async function createOmeTiffSink(options: OmeTiffSinkOptions & { meta: VolumeMetaInput }): Promise<OmeTiffSink> {
  const { meta, ...rest } = options;
  const sink = new OmeTiffSink(rest);
  await sink.open(meta);
  return sink;
}
