import { open } from "node:fs/promises";
import { fromFile, type GeoTIFF } from "geotiff";
import { readOmeMetadata, type OmeMetadata } from "@gently/ome-tiff";
import { GentlyError } from "@gently/protocol";

type FileHandle = Awaited<ReturnType<typeof open>>;
export type Plane = Uint16Array | Uint8Array;

/** Size of a stored volume as its readers address it: planes by (channel, z). */
export interface VolumeGeometry {
  size_x: number;
  size_y: number;
  size_z: number;
  size_c: number;
  dtype: "uint8" | "uint16";
}

const COMPRESSION_NONE = 1;

/**
 * One open volume file. geotiff parses the IFDs (it caches each as it walks
 * the chain); the plane's strips are then read straight from the offsets the
 * IFD gives, so a slice costs one plane of I/O and nothing more.
 */
export class TiffVolume {
  private constructor(
    readonly path: string,
    readonly geometry: VolumeGeometry,
    /** null for a plain TIFF without OME-XML */
    readonly ome: OmeMetadata | null,
    private readonly tiff: GeoTIFF,
    private readonly fh: FileHandle,
    private readonly ifdByPlane: Map<string, number> | null,
  ) {}

  static async open(path: string): Promise<TiffVolume> {
    const fh = await open(path, "r");
    let tiff: GeoTIFF | undefined;
    try {
      tiff = await fromFile(path);
      const ome = await readOmeMetadata(path).catch(() => null);
      const first = await tiff.getImage(0);
      const dtype = dtypeOf(Number(first.getBitsPerSample()));
      let geometry: VolumeGeometry;
      let ifdByPlane: Map<string, number> | null = null;
      if (ome) {
        const p = ome.pixels;
        geometry = { size_x: p.sizeX, size_y: p.sizeY, size_z: p.sizeZ, size_c: p.sizeC, dtype };
        ifdByPlane = new Map();
        for (const block of ome.tiffData) {
          if (block.firstT !== 0) continue;
          for (let k = 0; k < block.planeCount; k++) ifdByPlane.set(planeKey(block.firstC, block.firstZ + k), block.ifd + k);
        }
      } else {
        geometry = { size_x: first.getWidth(), size_y: first.getHeight(), size_z: await tiff.getImageCount(), size_c: 1, dtype };
      }
      return new TiffVolume(path, geometry, ome, tiff, fh, ifdByPlane);
    } catch (err) {
      await fh.close();
      await tiff?.close();
      if (err instanceof GentlyError) throw err;
      throw new GentlyError("internal", `volume file ${path} is not a readable TIFF: ${(err as Error).message}`);
    }
  }

  /** [z, y, x] for one channel, [c, z, y, x] for several. */
  get shape(): number[] {
    const g = this.geometry;
    return g.size_c > 1 ? [g.size_c, g.size_z, g.size_y, g.size_x] : [g.size_z, g.size_y, g.size_x];
  }

  get planeBytes(): number {
    return this.geometry.size_x * this.geometry.size_y * (this.geometry.dtype === "uint16" ? 2 : 1);
  }

  /** Reads plane (c, z) into a fresh array of native-order samples. */
  async readPlane(c: number, z: number): Promise<Plane> {
    const { offsets, counts, ifd } = await this.stripsOf(c, z);
    const bytes = new Uint8Array(this.planeBytes);
    let filled = 0;
    for (let i = 0; i < offsets.length && filled < bytes.length; ) {
      // Adjacent strips (the usual layout) are merged into one read.
      let length = counts[i];
      let j = i + 1;
      while (j < offsets.length && offsets[j] === offsets[i] + length) length += counts[j++];
      length = Math.min(length, bytes.length - filled);
      await readFully(this.fh, bytes, filled, length, offsets[i]);
      filled += length;
      i = j;
    }
    if (filled !== bytes.length) throw new GentlyError("internal", `plane ${ifd} of ${this.path} holds ${filled} of ${bytes.length} bytes`);
    return this.samplesOf(bytes);
  }

  /** Reads row y of plane (c, z) alone: a section across many planes reads one row of each, not every plane. */
  async readRow(c: number, z: number, y: number): Promise<Plane> {
    const { offsets, counts, rowsPerStrip, ifd } = await this.stripsOf(c, z);
    const rowBytes = this.planeBytes / this.geometry.size_y;
    const strip = Math.floor(y / rowsPerStrip);
    const within = (y % rowsPerStrip) * rowBytes;
    if (strip >= offsets.length || within + rowBytes > counts[strip]) {
      throw new GentlyError("internal", `plane ${ifd} of ${this.path} has no complete row ${y} in its strips`);
    }
    const bytes = new Uint8Array(rowBytes);
    await readFully(this.fh, bytes, 0, rowBytes, offsets[strip] + within);
    return this.samplesOf(bytes);
  }

  private async stripsOf(c: number, z: number): Promise<{ offsets: number[]; counts: number[]; rowsPerStrip: number; ifd: number }> {
    const ifd = this.ifdOf(c, z);
    const image = await this.tiff.getImage(ifd);
    const dir = image.fileDirectory;
    const g = this.geometry;
    if (image.getWidth() !== g.size_x || image.getHeight() !== g.size_y) {
      throw new GentlyError("internal", `plane ${ifd} of ${this.path} is ${image.getWidth()}x${image.getHeight()}, not ${g.size_x}x${g.size_y}`);
    }
    const compression = Number(dir.getValue("Compression") ?? COMPRESSION_NONE);
    if (compression !== COMPRESSION_NONE || image.getSamplesPerPixel() !== 1 || image.isTiled) {
      throw new GentlyError("internal", `plane ${ifd} of ${this.path} is compressed, tiled or multi-sample; viz reads gently's uncompressed strips only`);
    }
    const offsets = Array.from((await dir.loadValue("StripOffsets")) as ArrayLike<number | bigint>, Number);
    const counts = Array.from((await dir.loadValue("StripByteCounts")) as ArrayLike<number | bigint>, Number);
    // TIFF's default: one strip holds the whole image
    const rowsPerStrip = Math.min(g.size_y, Number(dir.getValue("RowsPerStrip") ?? g.size_y));
    return { offsets, counts, rowsPerStrip, ifd };
  }

  private samplesOf(bytes: Uint8Array): Plane {
    if (this.geometry.dtype === "uint8") return bytes;
    if (!this.tiff.littleEndian) Buffer.from(bytes.buffer).swap16();
    return new Uint16Array(bytes.buffer);
  }

  /** IFD index of plane (c, z); range checks are the caller's (it names the parameter). */
  ifdOf(c: number, z: number): number {
    if (!this.ifdByPlane) return c * this.geometry.size_z + z;
    const ifd = this.ifdByPlane.get(planeKey(c, z));
    if (ifd === undefined) throw new GentlyError("internal", `${this.path} has no plane for c=${c} z=${z} in its OME TiffData`);
    return ifd;
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.fh.close(), this.tiff.close()]);
  }
}

function planeKey(c: number, z: number): string {
  return `${c}:${z}`;
}

function dtypeOf(bits: number): "uint8" | "uint16" {
  if (bits === 8) return "uint8";
  if (bits === 16) return "uint16";
  throw new GentlyError("internal", `volume has ${bits}-bit samples; gently reads 8- and 16-bit only`);
}

async function readFully(fh: FileHandle, into: Uint8Array, at: number, length: number, position: number): Promise<void> {
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(into, at + got, length - got, position + got);
    if (bytesRead === 0) throw new GentlyError("internal", `unexpected end of file at byte ${position + got}`);
    got += bytesRead;
  }
}
