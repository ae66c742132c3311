import { closeSync, openSync, readSync } from "node:fs";
import { SinkError, toSinkError } from "./errors";
import { TAG } from "./tiff-layout";

/** Where one IFD's pixels are, and what they are. */
export interface TiffPlaneEntry {
  width: number;
  height: number;
  bitsPerSample: number;
  samplesPerPixel: number;
  compression: number;
  stripOffsets: number[];
  stripByteCounts: number[];
}

/** Every IFD of a TIFF, in chain order, and who wrote it (the Software tag of the first IFD). */
export interface TiffPlaneIndex {
  littleEndian: boolean;
  bigTiff: boolean;
  software: string | null;
  planes: TiffPlaneEntry[];
}

/** A chain longer than this is taken for a loop (gently's volumes have at most 2 × 100 000 planes). */
const MAX_IFDS = 1_000_000;
/** One read takes an IFD whole in the usual case (gently's IFDs are a few hundred bytes). */
const IFD_READ_BYTES = 4096;

/**
 * Up to `length` bytes at `position` (fewer at the end of the file). Synchronous: IFDs are a few
 * hundred bytes, each read a copy from the page cache (or one seek), and a thread-pool round trip
 * per read would cost more than the read.
 */
function readAt(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const bytesRead = readSync(fd, buf, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return buf.subarray(0, got);
}

/**
 * Walks the IFD chain of a classic or BigTIFF file of either byte order and
 * lists each IFD's strips, reading only the IFDs and their strip arrays: a
 * reader can then fetch planes straight from their offsets. Throws
 * `bad_file` for anything that is not a well-formed TIFF.
 */
export async function readTiffPlaneIndex(path: string): Promise<TiffPlaneIndex> {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (err) {
    throw toSinkError(err, `opening ${path}`);
  }
  try {
    return indexOf(fd, path);
  } catch (err) {
    throw toSinkError(err, `reading ${path}`);
  } finally {
    closeSync(fd);
  }
}

function indexOf(fd: number, path: string): TiffPlaneIndex {
  const bad = (why: string) => new SinkError("bad_file", `${path}: ${why}`);
  const head = readAt(fd, 0, 16);
  if (head.length < 8) throw bad("too short for a TIFF header");
  const order = head.toString("latin1", 0, 2);
  if (order !== "II" && order !== "MM") throw bad(`not a TIFF (byte order mark ${JSON.stringify(order)})`);
  const le = order === "II";
  const u16 = (b: Buffer, o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (b: Buffer, o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const u64 = (b: Buffer, o: number) => {
    const v = le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw bad(`offset ${v} is too large`);
    return Number(v);
  };
  const magic = u16(head, 2);
  if (magic !== 42 && magic !== 43) throw bad(`TIFF magic ${magic} is neither 42 nor 43`);
  const big = magic === 43;
  if (big && (head.length < 16 || u16(head, 4) !== 8)) throw bad("unsupported BigTIFF offset size");
  const countBytes = big ? 8 : 2;
  const entryBytes = big ? 20 : 12;
  const inlineBytes = big ? 8 : 4;
  const typeBytes: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 7: 1, 16: 8 };

  /** Values of one entry as numbers (SHORT, LONG, LONG8) or its raw bytes (ASCII). */
  const valuesOf = (entries: Buffer, e: number): { numbers: number[]; raw: Buffer } => {
    const type = u16(entries, e + 2);
    const size = typeBytes[type];
    if (size === undefined) throw bad(`tag ${u16(entries, e)} has TIFF type ${type}`);
    const count = big ? u64(entries, e + 4) : u32(entries, e + 4);
    const bytes = count * size;
    const at = e + (big ? 12 : 8);
    const raw = bytes <= inlineBytes ? entries.subarray(at, at + bytes) : readAt(fd, big ? u64(entries, at) : u32(entries, at), bytes);
    if (raw.length < bytes) throw bad(`tag ${u16(entries, e)}'s values run past the end of the file`);
    const numbers: number[] = [];
    if (type === 3) for (let i = 0; i < count; i++) numbers.push(u16(raw, i * 2));
    else if (type === 4) for (let i = 0; i < count; i++) numbers.push(u32(raw, i * 4));
    else if (type === 16) for (let i = 0; i < count; i++) numbers.push(u64(raw, i * 8));
    return { numbers, raw };
  };

  const planes: TiffPlaneEntry[] = [];
  let software: string | null = null;
  let next = big ? u64(head, 8) : u32(head, 4);
  const seen = new Set<number>();
  while (next !== 0) {
    if (seen.has(next) || seen.size >= MAX_IFDS) throw bad(`the IFD chain loops at offset ${next}`);
    seen.add(next);
    let block = readAt(fd, next, IFD_READ_BYTES);
    if (block.length < countBytes) throw bad(`IFD at ${next} is past the end of the file`);
    const n = big ? u64(block, 0) : u16(block, 0);
    const ifdBytes = countBytes + n * entryBytes + (big ? 8 : 4);
    if (block.length < ifdBytes) block = readAt(fd, next, ifdBytes);
    if (block.length < ifdBytes) throw bad(`IFD at ${next} runs past the end of the file`);
    const plane: TiffPlaneEntry = { width: 0, height: 0, bitsPerSample: 1, samplesPerPixel: 1, compression: 1, stripOffsets: [], stripByteCounts: [] };
    for (let i = 0; i < n; i++) {
      const e = countBytes + i * entryBytes;
      const tag = u16(block, e);
      switch (tag) {
        case TAG.ImageWidth:
          plane.width = valuesOf(block, e).numbers[0] ?? 0;
          break;
        case TAG.ImageLength:
          plane.height = valuesOf(block, e).numbers[0] ?? 0;
          break;
        case TAG.BitsPerSample:
          plane.bitsPerSample = valuesOf(block, e).numbers[0] ?? 1;
          break;
        case TAG.SamplesPerPixel:
          plane.samplesPerPixel = valuesOf(block, e).numbers[0] ?? 1;
          break;
        case TAG.Compression:
          plane.compression = valuesOf(block, e).numbers[0] ?? 1;
          break;
        case TAG.StripOffsets:
          plane.stripOffsets = valuesOf(block, e).numbers;
          break;
        case TAG.StripByteCounts:
          plane.stripByteCounts = valuesOf(block, e).numbers;
          break;
        case TAG.Software:
          if (planes.length === 0) {
            const { raw } = valuesOf(block, e);
            const nul = raw.indexOf(0);
            software = raw.subarray(0, nul < 0 ? raw.length : nul).toString("latin1");
          }
          break;
      }
    }
    planes.push(plane);
    const nextAt = countBytes + n * entryBytes;
    next = big ? u64(block, nextAt) : u32(block, nextAt);
  }
  return { littleEndian: le, bigTiff: big, software, planes };
}
