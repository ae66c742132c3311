import { open } from "node:fs/promises";
import { SinkError, toSinkError } from "./errors";
import { parseOmeXml, type OmeMetadata } from "./ome-xml";
import { TAG } from "./tiff-layout";

type FileHandle = Awaited<ReturnType<typeof open>>;

async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, position + got);
    if (bytesRead === 0) throw new SinkError("bad_file", `unexpected end of file reading ${length} bytes at ${position}`);
    got += bytesRead;
  }
  return buf;
}

function toSafeNumber(v: bigint, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new SinkError("bad_file", `${what} ${v} is too large`);
  return Number(v);
}

/**
 * The ImageDescription (tag 270) of the first IFD, from a classic or BigTIFF file of either byte
 * order; null when the first IFD has none. Reads only the header, the first IFD and the tag value.
 */
export async function readFirstImageDescription(path: string): Promise<{ description: string | null; bigTiff: boolean; littleEndian: boolean }> {
  let fh: FileHandle;
  try {
    fh = await open(path, "r");
  } catch (err) {
    throw toSinkError(err, `opening ${path}`);
  }
  try {
    const head = await readAt(fh, 0, 16).catch(() => readAt(fh, 0, 8));
    const order = head.toString("latin1", 0, 2);
    if (order !== "II" && order !== "MM") throw new SinkError("bad_file", `${path} is not a TIFF (byte order mark ${JSON.stringify(order)})`);
    const le = order === "II";
    const u16 = (b: Buffer, o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
    const u32 = (b: Buffer, o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
    const u64 = (b: Buffer, o: number, what: string) => toSafeNumber(le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o), what);
    const magic = u16(head, 2);
    let big: boolean;
    let ifd0: number;
    if (magic === 42) {
      big = false;
      ifd0 = u32(head, 4);
    } else if (magic === 43) {
      big = true;
      if (head.length < 16 || u16(head, 4) !== 8) throw new SinkError("bad_file", `${path}: unsupported BigTIFF offset size`);
      ifd0 = u64(head, 8, "first IFD offset");
    } else {
      throw new SinkError("bad_file", `${path}: TIFF magic ${magic} is neither 42 nor 43`);
    }
    const countBytes = big ? 8 : 2;
    const entryBytes = big ? 20 : 12;
    const countBuf = await readAt(fh, ifd0, countBytes);
    const n = big ? u64(countBuf, 0, "IFD entry count") : u16(countBuf, 0);
    const entries = await readAt(fh, ifd0 + countBytes, n * entryBytes);
    for (let i = 0; i < n; i++) {
      const e = i * entryBytes;
      if (u16(entries, e) !== TAG.ImageDescription) continue;
      const type = u16(entries, e + 2);
      if (type !== 2 && type !== 1 && type !== 7) throw new SinkError("bad_file", `${path}: ImageDescription has TIFF type ${type}`);
      const length = big ? u64(entries, e + 4, "ImageDescription length") : u32(entries, e + 4);
      const inlineMax = big ? 8 : 4;
      const valueAt = e + (big ? 12 : 8);
      const raw = length <= inlineMax ? entries.subarray(valueAt, valueAt + length) : await readAt(fh, big ? u64(entries, valueAt, "ImageDescription offset") : u32(entries, valueAt), length);
      const nul = raw.indexOf(0);
      // OME writers use UTF-8 in this ASCII field; gently's own files are pure ASCII, a UTF-8 subset.
      return { description: raw.subarray(0, nul < 0 ? raw.length : nul).toString("utf8"), bigTiff: big, littleEndian: le };
    }
    return { description: null, bigTiff: big, littleEndian: le };
  } catch (err) {
    throw toSinkError(err, `reading ${path}`);
  } finally {
    await fh.close();
  }
}

/** OME metadata (and gently's volume metadata, when present) parsed from an OME-TIFF file alone. */
export async function readOmeMetadata(path: string): Promise<OmeMetadata & { bigTiff: boolean }> {
  const { description, bigTiff } = await readFirstImageDescription(path);
  if (description === null) throw new SinkError("bad_file", `${path}: first IFD has no ImageDescription`);
  return { ...parseOmeXml(description), bigTiff };
}
