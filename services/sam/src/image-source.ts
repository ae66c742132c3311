import { stat } from "node:fs/promises";
import { fromFile, type GeoTIFF } from "geotiff";
import type { GrayImage, ImageFrame } from "@gently/detection";
import { volumePathFor } from "@gently/storage";
import { readOmeMetadata, type OmeMetadata, type VolumeMeta } from "@gently/ome-tiff";
import { GentlyError, Uid } from "@gently/protocol";

/**
 * The 2-D picture detection runs on, loaded from `{storage}/volumes/{uid}.tif`:
 * a single-plane image as it is, a volume as the maximum projection over z of
 * one channel, read one plane at a time so memory stays at two planes
 * whatever the depth.
 */
export interface SourceImage {
  uid: Uid;
  path: string;
  image: GrayImage;
  /** where the image sits on the stage (its centre) and its pixel size, from the gently annotation */
  frame: ImageFrame;
  source: "image" | "max_projection";
  channel: number;
  /** the file's own metadata, carried onto the derived items */
  meta: VolumeMeta;
}

export async function loadSourceImage(storage: string, uidInput: string, channel = 0): Promise<SourceImage> {
  // The uid becomes a file name: only a valid uid may reach the file system.
  const parsed = Uid.safeParse(uidInput);
  if (!parsed.success) throw new GentlyError("invalid_request", `image_uid: not a uid: ${JSON.stringify(uidInput)}`, "image_uid");
  const uid = parsed.data;
  const path = volumePathFor(storage, uid);
  try {
    if (!(await stat(path)).isFile()) throw new GentlyError("not_found", `no image or volume with uid ${uid} (${path} is not a file)`, "image_uid");
  } catch (err) {
    if (err instanceof GentlyError) throw err;
    throw new GentlyError("not_found", `no image or volume with uid ${uid} at ${path}`, "image_uid");
  }

  let ome: OmeMetadata;
  try {
    ome = await readOmeMetadata(path);
  } catch (err) {
    throw unreadable(path, err);
  }
  const meta = ome.meta;
  if (!meta) {
    throw new GentlyError("invalid_request", `${path} has no gently metadata annotation: pixel size and stage position are unknown`, "image_uid");
  }
  if (channel >= meta.size_c) {
    throw new GentlyError("invalid_request", `options.channel ${channel}: the file has ${meta.size_c} channel(s)`, "options.channel");
  }

  const planes = planeIfds(ome, channel);
  const image = await maxProjection(path, planes, meta);
  return {
    uid,
    path,
    image,
    frame: {
      stage_x_um: meta.stage_position_um.x_um,
      stage_y_um: meta.stage_position_um.y_um,
      pixel_size_um: meta.pixel_size_um,
      width: image.width,
      height: image.height,
    },
    source: planes.length === 1 ? "image" : "max_projection",
    channel,
    meta,
  };
}

/** IFD indices of every z plane of one channel (first timepoint), from the OME TiffData blocks. */
function planeIfds(ome: OmeMetadata, channel: number): number[] {
  const ifds: number[] = [];
  for (const block of ome.tiffData) {
    if (block.firstT !== 0 || block.firstC !== channel) continue;
    for (let k = 0; k < block.planeCount; k++) ifds.push(block.ifd + k);
  }
  if (ifds.length === 0) throw new GentlyError("invalid_request", `the file maps no plane to channel ${channel}`, "image_uid");
  return ifds;
}

async function maxProjection(path: string, ifds: number[], meta: VolumeMeta): Promise<GrayImage> {
  const width = meta.size_x;
  const height = meta.size_y;
  const max = meta.dtype === "uint8" ? new Uint8Array(width * height) : new Uint16Array(width * height);
  let tiff: GeoTIFF;
  try {
    tiff = await fromFile(path);
  } catch (err) {
    throw unreadable(path, err);
  }
  try {
    for (const ifd of ifds) {
      const plane = await tiff.getImage(ifd);
      if (plane.getWidth() !== width || plane.getHeight() !== height) {
        throw new GentlyError("invalid_request", `${path}: plane ${ifd} is ${plane.getWidth()}x${plane.getHeight()}, metadata says ${width}x${height}`, "image_uid");
      }
      const [raster] = (await plane.readRasters({ interleave: false })) as unknown as ArrayLike<number>[];
      if (ifds.length === 1) {
        max.set(raster);
        break;
      }
      for (let i = 0; i < max.length; i++) if (raster[i] > max[i]) max[i] = raster[i];
    }
  } catch (err) {
    if (err instanceof GentlyError) throw err;
    throw unreadable(path, err);
  } finally {
    await tiff.close?.();
  }
  return { data: max, width, height };
}

function unreadable(path: string, err: unknown): GentlyError {
  return new GentlyError("invalid_request", `${path} is not a readable OME-TIFF: ${(err as Error)?.message ?? String(err)}`, "image_uid");
}
