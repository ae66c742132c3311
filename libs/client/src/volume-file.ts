import { fromFile } from "geotiff";
import { readOmeMetadata, type OmeMetadata } from "@gently/ome-tiff";
import { GentlyError } from "@gently/protocol";

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

/**
 * Reads an OME-TIFF written by gently (or any single-sample TIFF) with
 * geotiff. Planes are placed by the file's OME TiffData, so either dimension
 * order (XYZCT or XYCZT) comes back as [c][z][y][x].
 */
export async function readVolumeFile(path: string): Promise<LoadedVolume> {
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
    const metadata = ome
      ? { ome: { ...withoutXml(ome), annotation: Object.fromEntries(ome.annotation) } }
      : { ome: null };
    return { path, shape, dtype, data, metadata };
  } finally {
    await tiff.close?.();
  }
}

function withoutXml(ome: OmeMetadata): Omit<OmeMetadata, "xml" | "annotation"> {
  const { xml: _xml, annotation: _annotation, ...rest } = ome;
  return rest;
}
