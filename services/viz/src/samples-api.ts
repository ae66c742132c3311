import type { ServerResponse } from "node:http";
import { GentlyError } from "@gently/protocol";
import { z } from "zod";
import type { RouteHandler } from "./context";
import { MAX_CHANNEL, MAX_Z } from "./images-api";
import { intParam, parseQuery } from "./query";
import { assertUid } from "./storage-paths";
import type { Plane, TiffVolume, VolumeGeometry } from "@gently/preview";

/**
 * Raw samples for the viewer, which does contrast, LUTs, histogram and pixel
 * readout itself and so needs the stored values, not an 8-bit rendering.
 * Body: row-major samples, little-endian; X-Gently-Width / -Height / -Dtype
 * say how to read it.
 */
const SamplesQuery = z.object({ c: intParam(0, MAX_CHANNEL).optional() });

/** Largest pixel coordinate a path may name; real limits come from the volume. */
export const MAX_XY = 65_535;

/** Plane (c, z) as stored. */
export const getSliceSamples: RouteHandler = async (ctx, { res, url, params: [uid, zText] }) => {
  assertUid(uid);
  const z = indexParam(zText, "z", MAX_Z);
  const c = parseQuery(url, SamplesQuery).c ?? 0;
  const file = await ctx.storage.volumeFile(uid);
  await ctx.volumes.use(file, async (volume) => {
    checkChannel(c, volume.geometry);
    checkIndex(z, "z", volume.geometry.size_z);
    sendSamples(res, await volume.readPlane(c, z), volume.geometry.size_x, volume.geometry.size_y);
  });
};

/** Maximum intensity projection of channel c (the same stored MIP the PNG route serves). */
export const getMipSamples: RouteHandler = async (ctx, { res, url, params: [uid] }) => {
  assertUid(uid);
  const c = parseQuery(url, SamplesQuery).c ?? 0;
  const file = await ctx.storage.volumeFile(uid);
  await ctx.volumes.use(file, async (volume) => {
    checkChannel(c, volume.geometry);
    const mip = await ctx.mips.get(uid, volume, c);
    res.setHeader("X-Gently-Mip-Uid", mip.uid);
    sendSamples(res, mip.pixels, mip.width, mip.height);
  });
};

/** Orthogonal XZ section at row y: size_z rows of size_x samples, z = 0 first. */
export const getXzSamples: RouteHandler = async (ctx, { res, url, params: [uid, yText] }) => {
  assertUid(uid);
  const y = indexParam(yText, "y", MAX_XY);
  const c = parseQuery(url, SamplesQuery).c ?? 0;
  const file = await ctx.storage.volumeFile(uid);
  await ctx.volumes.use(file, async (volume) => {
    const { size_x, size_y, size_z } = volume.geometry;
    checkChannel(c, volume.geometry);
    checkIndex(y, "y", size_y);
    const out = section(volume, size_x * size_z);
    for (let z = 0; z < size_z; z++) out.set(await volume.readRow(c, z, y), z * size_x);
    sendSamples(res, out, size_x, size_z);
  });
};

/** Orthogonal YZ section at column x: size_y rows of size_z samples (z along the row, so it stands beside the slice). */
export const getYzSamples: RouteHandler = async (ctx, { res, url, params: [uid, xText] }) => {
  assertUid(uid);
  const x = indexParam(xText, "x", MAX_XY);
  const c = parseQuery(url, SamplesQuery).c ?? 0;
  const file = await ctx.storage.volumeFile(uid);
  await ctx.volumes.use(file, async (volume) => {
    const { size_x, size_y, size_z } = volume.geometry;
    checkChannel(c, volume.geometry);
    checkIndex(x, "x", size_x);
    const out = section(volume, size_y * size_z);
    for (let z = 0; z < size_z; z++) {
      const plane = await volume.readPlane(c, z);
      for (let y = 0; y < size_y; y++) out[y * size_z + z] = plane[y * size_x + x];
    }
    sendSamples(res, out, size_z, size_y);
  });
};

function section(volume: TiffVolume, length: number): Plane {
  return volume.geometry.dtype === "uint16" ? new Uint16Array(length) : new Uint8Array(length);
}

function indexParam(text: string, name: string, max: number): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > max) throw new GentlyError("invalid_request", `${name}: must be an integer in [0, ${max}], got ${JSON.stringify(text.slice(0, 16))}`, name);
  return Number(text);
}

function checkIndex(value: number, name: string, size: number): void {
  if (value >= size) throw new GentlyError("invalid_request", `${name}: must be in [0, ${size - 1}] for this volume, got ${value}`, name);
}

function checkChannel(c: number, geometry: VolumeGeometry): void {
  if (c >= geometry.size_c) throw new GentlyError("invalid_request", `c: must be in [0, ${geometry.size_c - 1}] for this volume, got ${c}`, "c");
}

/** Pixels of a written volume never change, so the samples may be cached like the PNGs. */
function sendSamples(res: ServerResponse, plane: Plane, width: number, height: number): void {
  // Samples are in native order, which is little-endian on every platform gently runs on (x86-64, arm64).
  const bytes = Buffer.from(plane.buffer, plane.byteOffset, plane.byteLength);
  res.writeHead(200, {
    "Content-Type": "application/octet-stream",
    "Content-Length": bytes.byteLength,
    "Cache-Control": "private, max-age=86400, immutable",
    "X-Gently-Width": String(width),
    "X-Gently-Height": String(height),
    "X-Gently-Dtype": plane instanceof Uint16Array ? "uint16" : "uint8",
  });
  res.end(bytes);
}

