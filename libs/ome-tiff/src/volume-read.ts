import { open } from "node:fs/promises";
import { fromFile } from "geotiff";
import { SinkError } from "./errors";
import type { OmeMetadata } from "./ome-xml";
import { mapPlanes } from "./map-planes";
import { SOFTWARE } from "./ome-tiff-sink";
import { readTiffPlaneIndex, type TiffPlaneIndex } from "./plane-index";
import { readOmeMetadata } from "./read";
import { GentlyError } from "@gently/protocol";

type FileHandle = Awaited<ReturnType<typeof open>>;

/** A volume or image read into memory: pixels in [c][z][y][x] order. */
export interface LoadedVolume {
  path: string;
  /** [z, y, x] for one camera, [c, z, y, x] for two */
  shape: number[];
  dtype: "uint8" | "uint16";
  data: Uint16Array | Uint8Array;
  /** OME pixel sizes, channel names and gently's volume metadata (null for a plain TIFF) */
  metadata: { ome: Omit<OmeMetadata, "xml" | "annotation"> & { annotation: Record<string, string> } } | { ome: null };
}

/** Part of a volume: one channel, half-open [start, end) ranges of z, y and x (absent: all of it). */
export interface VolumeRegion {
  c?: number;
  z?: [number, number];
  y?: [number, number];
  x?: [number, number];
}

/** A file the writer wrote, as laid out on disk: where each [c][z] plane's pixels start. */
interface OwnLayout {
  width: number;
  height: number;
  dtype: "uint8" | "uint16";
  sizeC: number;
  sizeZ: number;
  /** file offset of plane c × sizeZ + z (its strips are contiguous) */
  planeOffsets: number[];
  littleEndian: boolean;
  ome: OmeMetadata;
}

/** Planes read at once: enough to keep the disk (or the page cache's copies) busy. */
const READS_IN_FLIGHT = 8;

/**
 * Reads an OME-TIFF written by gently, or any single-sample TIFF, into
 * [c][z][y][x]. A file the writer wrote (Software "gently", uncompressed
 * contiguous strips, OME TiffData) comes straight from its planes' offsets:
 * mapped where they sit on the page grid (the writer aligns planes of 1 MiB
 * and more), else read into the result; anything else goes through geotiff.
 * Planes are placed by the file's OME TiffData, so either dimension order
 * (XYZCT or XYCZT) comes back as [c][z][y][x].
 */
export async function readVolumeFile(path: string): Promise<LoadedVolume> {
  const own = await ownLayoutOf(path);
  if (!own) return readWithGeotiff(path);
  const data = (await mapWhole(path, own)) ?? (await readRegion(path, own, { c: 0, z: [0, own.sizeZ], y: [0, own.height], x: [0, own.width] }, own.sizeC));
  const shape = own.sizeC > 1 ? [own.sizeC, own.sizeZ, own.height, own.width] : [own.sizeZ, own.height, own.width];
  return { path, shape, dtype: own.dtype, data, metadata: metadataOf(own.ome) };
}

/**
 * Reads part of a volume: planes z of channel c, rows y, columns x, as
 * [z][y][x]. From a file the writer wrote only those rows are read; a
 * foreign file is read whole through geotiff and cut.
 */
export async function readVolumeRegion(path: string, region: VolumeRegion): Promise<LoadedVolume> {
  const own = await ownLayoutOf(path);
  if (own) {
    const r = checkRegion(region, own.sizeC, own.sizeZ, own.height, own.width);
    const data = await readRegion(path, own, r, 1);
    return { path, shape: [r.z[1] - r.z[0], r.y[1] - r.y[0], r.x[1] - r.x[0]], dtype: own.dtype, data, metadata: metadataOf(own.ome) };
  }
  const whole = await readWithGeotiff(path);
  const [sizeC, sizeZ, height, width] = whole.shape.length === 4 ? (whole.shape as [number, number, number, number]) : [1, ...(whole.shape as [number, number, number])];
  const r = checkRegion(region, sizeC, sizeZ, height, width);
  const [zs, ys, xs] = [r.z[1] - r.z[0], r.y[1] - r.y[0], r.x[1] - r.x[0]];
  const data = whole.dtype === "uint8" ? new Uint8Array(zs * ys * xs) : new Uint16Array(zs * ys * xs);
  for (let z = 0; z < zs; z++) {
    for (let y = 0; y < ys; y++) {
      const from = ((r.c * sizeZ + r.z[0] + z) * height + r.y[0] + y) * width + r.x[0];
      data.set(whole.data.subarray(from, from + xs), (z * ys + y) * xs);
    }
  }
  return { path, shape: [zs, ys, xs], dtype: whole.dtype, data, metadata: whole.metadata };
}

/** The region with every range filled in and checked; a range off the volume is refused naming it and the volume's size. */
function checkRegion(region: VolumeRegion, sizeC: number, sizeZ: number, height: number, width: number): Required<VolumeRegion> {
  const c = region.c ?? 0;
  if (!Number.isInteger(c) || c < 0 || c >= sizeC) throw new GentlyError("invalid_request", `c ${c} is not a channel of this volume (0 to ${sizeC - 1})`, "c");
  const range = (name: "z" | "y" | "x", value: [number, number] | undefined, size: number): [number, number] => {
    const [start, end] = value ?? [0, size];
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > size || start >= end) {
      throw new GentlyError("invalid_request", `${name} range [${start}, ${end}) is not inside this volume's 0 to ${size} (start < end, end exclusive)`, name);
    }
    return [start, end];
  };
  return { c, z: range("z", region.z, sizeZ), y: range("y", region.y, height), x: range("x", region.x, width) };
}

/** Whether the file is one the writer wrote, read straight from its planes (else geotiff reads it). */
export async function isWriterLayout(path: string): Promise<boolean> {
  return (await ownLayoutOf(path)) !== null;
}

/**
 * Where the planes of a file the writer wrote are, or null for anything else
 * (the caller then uses geotiff): Software "gently", every IFD one
 * uncompressed single-sample 8- or 16-bit plane of one size in contiguous
 * strips, and OME TiffData for every plane.
 */
async function ownLayoutOf(path: string): Promise<OwnLayout | null> {
  let index: TiffPlaneIndex;
  try {
    index = await readTiffPlaneIndex(path);
  } catch (err) {
    if (err instanceof SinkError && err.errno === "ENOENT") throw new GentlyError("not_found", `no volume file at ${path}`);
    // not a TIFF this walker reads: geotiff says what is wrong with it
    return null;
  }
  if (index.software !== SOFTWARE || index.planes.length === 0) return null;
  const first = index.planes[0]!;
  const bytesPerSample = first.bitsPerSample / 8;
  if (bytesPerSample !== 1 && bytesPerSample !== 2) return null;
  const planeBytes = first.width * first.height * bytesPerSample;
  const starts: number[] = [];
  for (const p of index.planes) {
    if (p.width !== first.width || p.height !== first.height || p.bitsPerSample !== first.bitsPerSample) return null;
    if (p.compression !== 1 || p.samplesPerPixel !== 1 || p.stripOffsets.length === 0 || p.stripOffsets.length !== p.stripByteCounts.length) return null;
    let end = p.stripOffsets[0]!;
    for (let i = 0; i < p.stripOffsets.length; i++) {
      if (p.stripOffsets[i] !== end) return null;
      end += p.stripByteCounts[i]!;
    }
    if (end - p.stripOffsets[0]! !== planeBytes) return null;
    starts.push(p.stripOffsets[0]!);
  }
  const ome = await readOmeMetadata(path).catch(() => null);
  if (!ome || ome.tiffData.length === 0) return null;
  const { sizeC, sizeZ, sizeX, sizeY } = ome.pixels;
  if (sizeX !== first.width || sizeY !== first.height) return null;
  const planeOffsets = new Array<number>(sizeC * sizeZ);
  for (const block of ome.tiffData) {
    if (block.firstT !== 0) continue;
    for (let k = 0; k < block.planeCount; k++) {
      const start = starts[block.ifd + k];
      if (start === undefined) return null;
      planeOffsets[block.firstC * sizeZ + block.firstZ + k] = start;
    }
  }
  for (let i = 0; i < planeOffsets.length; i++) if (planeOffsets[i] === undefined) return null;
  return { width: first.width, height: first.height, dtype: bytesPerSample === 1 ? "uint8" : "uint16", sizeC, sizeZ, planeOffsets, littleEndian: index.littleEndian, ome };
}

/** Every plane of the file mapped in [c][z] order (see mapPlanes), or null where they cannot be. */
async function mapWhole(path: string, own: OwnLayout): Promise<Uint16Array | Uint8Array | null> {
  if (own.dtype === "uint16" && !own.littleEndian) return null;
  const buffer = await mapPlanes(path, own.planeOffsets, own.width * own.height * (own.dtype === "uint16" ? 2 : 1));
  if (!buffer) return null;
  return own.dtype === "uint16" ? new Uint16Array(buffer) : new Uint8Array(buffer);
}

/**
 * Reads rows y, columns x of planes z of channels c … c + channels - 1 into
 * one array ([c][z][y][x]), each plane's rows with one read straight into the
 * result (columns cut from them when x is not whole), several reads in flight.
 */
async function readRegion(path: string, own: OwnLayout, r: Required<VolumeRegion>, channels: number): Promise<Uint16Array | Uint8Array> {
  const sample = own.dtype === "uint16" ? 2 : 1;
  const rowBytes = own.width * sample;
  const [zs, ys, xs] = [r.z[1] - r.z[0], r.y[1] - r.y[0], r.x[1] - r.x[0]];
  const outPlaneBytes = ys * xs * sample;
  const out = new Uint8Array(new ArrayBuffer(channels * zs * outPlaneBytes));
  const wholeRows = xs === own.width;
  const fh = await open(path, "r");
  try {
    const jobs: { offset: number; at: number }[] = [];
    for (let c = 0; c < channels; c++) {
      for (let z = 0; z < zs; z++) {
        jobs.push({ offset: own.planeOffsets[(r.c + c) * own.sizeZ + r.z[0] + z]! + r.y[0] * rowBytes, at: (c * zs + z) * outPlaneBytes });
      }
    }
    let next = 0;
    const worker = async () => {
      const rows = wholeRows ? null : new Uint8Array(ys * rowBytes);
      for (let job = jobs[next++]; job; job = jobs[next++]) {
        if (!rows) {
          await readFully(fh, out, job.at, outPlaneBytes, job.offset, path);
          continue;
        }
        await readFully(fh, rows, 0, rows.length, job.offset, path);
        for (let y = 0; y < ys; y++) out.set(rows.subarray(y * rowBytes + r.x[0] * sample, y * rowBytes + r.x[1] * sample), job.at + y * xs * sample);
      }
    };
    await Promise.all(Array.from({ length: Math.min(READS_IN_FLIGHT, jobs.length) }, worker));
  } finally {
    await fh.close();
  }
  if (own.dtype === "uint8") return out;
  if (!own.littleEndian) Buffer.from(out.buffer).swap16();
  return new Uint16Array(out.buffer);
}

async function readFully(fh: FileHandle, into: Uint8Array, at: number, length: number, position: number, path: string): Promise<void> {
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(into, at + got, length - got, position + got);
    if (bytesRead === 0) throw new GentlyError("internal", `${path} ends at byte ${position + got}, inside a plane`);
    got += bytesRead;
  }
}

function metadataOf(ome: OmeMetadata): LoadedVolume["metadata"] {
  return { ome: { ...withoutXml(ome), annotation: Object.fromEntries(ome.annotation) } };
}

/**
 * Reads any single-sample TIFF with geotiff (the fallback for files the
 * writer did not write); planes placed by OME TiffData when there is one.
 */
export async function readWithGeotiff(path: string): Promise<LoadedVolume> {
  let tiff;
  try {
    tiff = await fromFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new GentlyError("not_found", `no volume file at ${path}`);
    throw new GentlyError("internal", `${path} is not a readable TIFF: ${(err as Error).message}`);
  }
  try {
    const ome = await readOmeMetadata(path).catch(() => null);
    const first = await tiff.getImage(0);
    const width = first.getWidth();
    const height = first.getHeight();
    const bits = Number(first.getBitsPerSample());
    if (bits !== 8 && bits !== 16) throw new GentlyError("internal", `${path} has ${bits}-bit samples; only 8 and 16 are read`);
    const dtype = bits === 8 ? "uint8" : "uint16";
    const count = await tiff.getImageCount();
    const sizeZ = ome ? ome.pixels.sizeZ : count;
    const sizeC = ome ? ome.pixels.sizeC : 1;
    // plane index in the output ([c][z]) → IFD index in the file
    const ifdOf = new Array<number>(sizeC * sizeZ);
    if (ome && ome.tiffData.length > 0) {
      for (const block of ome.tiffData) {
        if (block.firstT !== 0) continue;
        for (let k = 0; k < block.planeCount; k++) ifdOf[block.firstC * sizeZ + block.firstZ + k] = block.ifd + k;
      }
    } else {
      for (let i = 0; i < ifdOf.length; i++) ifdOf[i] = i;
    }
    const planeSize = width * height;
    const data = dtype === "uint8" ? new Uint8Array(planeSize * ifdOf.length) : new Uint16Array(planeSize * ifdOf.length);
    for (let plane = 0; plane < ifdOf.length; plane++) {
      const ifd = ifdOf[plane];
      if (ifd === undefined || ifd >= count) throw new GentlyError("internal", `${path} has no IFD for plane ${plane}`);
      const image = await tiff.getImage(ifd);
      const [raster] = (await image.readRasters({ interleave: false })) as unknown as ArrayLike<number>[];
      data.set(raster as ArrayLike<number>, plane * planeSize);
    }
    const shape = sizeC > 1 ? [sizeC, sizeZ, height, width] : [sizeZ, height, width];
    const metadata = ome ? metadataOf(ome) : { ome: null };
    return { path, shape, dtype, data, metadata };
  } finally {
    await tiff.close?.();
  }
}

function withoutXml(ome: OmeMetadata): Omit<OmeMetadata, "xml" | "annotation"> {
  const { xml: _xml, annotation: _annotation, ...rest } = ome;
  return rest;
}
