import { GentlyError } from "@gently/protocol";
import { z } from "zod";
import { binPlane } from "./binning";
import { autoWindow, previewOptionsOf, PreviewQuery, toGray8, volumePreview, type Plane, type VolumeGeometry, type Window } from "@gently/preview";
import type { RouteHandler } from "./context";
import { sendJson, sendImmutable } from "./http-response";
import { imageMetadata } from "./image-metadata";
import { encodeGray8Png } from "./png";
import { intParam, parseQuery } from "./query";
import { sendFile } from "./raw-file";
import { assertUid } from "./storage-paths";

/** Most channels a volume can have (two cameras today). */
export const MAX_CHANNEL = 15;
/** Largest plane index a path may name; real limits come from the volume. */
export const MAX_Z = 99_999;

/** Largest binning factor: 8×8 already turns a 2048-pixel plane into 256 pixels. */
export const MAX_BIN = 8;

const RenderQuery = z.object({
  c: intParam(0, MAX_CHANNEL).optional(),
  /** mean over bin×bin blocks before contrast and encoding; 1 = full resolution */
  bin: intParam(1, MAX_BIN).optional(),
  min: intParam(0, 65_535).optional(),
  max: intParam(0, 65_535).optional(),
});
type RenderQuery = z.output<typeof RenderQuery>;

export const getImage: RouteHandler = async (ctx, { res, url, params: [uid] }) => {
  assertUid(uid);
  parseQuery(url, z.object({}));
  sendJson(res, 200, await imageMetadata(ctx.nc, ctx.storage, ctx.volumes, uid));
};

export const getSlice: RouteHandler = async (ctx, { res, url, params: [uid, zText] }) => {
  assertUid(uid);
  if (!/^\d{1,5}$/.test(zText)) throw new GentlyError("invalid_request", `z: must be an integer in [0, ${MAX_Z}]`, "z");
  const z = Number(zText);
  const query = parseQuery(url, RenderQuery);
  const window = requestedWindow(query);
  const file = await ctx.storage.volumeFile(uid);
  const rendered = await ctx.volumes.use(file, async (volume) => {
    const c = channelOf(query, volume.geometry);
    if (z >= volume.geometry.size_z) {
      throw new GentlyError("invalid_request", `z: must be in [0, ${volume.geometry.size_z - 1}] for this volume`, "z");
    }
    return render(await volume.readPlane(c, z), volume.geometry.size_x, volume.geometry.size_y, query.bin ?? 1, window);
  });
  res.setHeader("X-Gently-Window", `${rendered.window.min},${rendered.window.max}`);
  sendImmutable(res, "image/png", rendered.png);
};

export const getMip: RouteHandler = async (ctx, { res, url, params: [uid] }) => {
  assertUid(uid);
  const query = parseQuery(url, RenderQuery);
  const window = requestedWindow(query);
  const file = await ctx.storage.volumeFile(uid);
  const rendered = await ctx.volumes.use(file, async (volume) => {
    const c = channelOf(query, volume.geometry);
    const mip = await ctx.mips.get(uid, volume, c);
    res.setHeader("X-Gently-Mip-Uid", mip.uid);
    return render(mip.pixels, mip.width, mip.height, query.bin ?? 1, window);
  });
  res.setHeader("X-Gently-Window", `${rendered.window.min},${rendered.window.max}`);
  sendImmutable(res, "image/png", rendered.png);
};

/**
 * The JPEG the copilot shows the model (percentile stretch, at most `max`
 * pixels, dual cameras side by side unless `c` picks one): the same function
 * as the HTTP API's and the MCP server's, with the MIP from viz's cache.
 */
export const getMipJpeg: RouteHandler = async (ctx, { res, url, params: [uid] }) => {
  assertUid(uid);
  const options = previewOptionsOf(parseQuery(url, PreviewQuery));
  const file = await ctx.storage.volumeFile(uid);
  const preview = await ctx.volumes.use(file, (volume) =>
    volumePreview(volume, { kind: "mip" }, options, async (c) => (await ctx.mips.get(uid, volume, c)).pixels),
  );
  sendImmutable(res, "image/jpeg", preview.jpeg);
};

export const getSliceJpeg: RouteHandler = async (ctx, { res, url, params: [uid, zText] }) => {
  assertUid(uid);
  if (!/^\d{1,5}$/.test(zText)) throw new GentlyError("invalid_request", `z: must be an integer in [0, ${MAX_Z}]`, "z");
  const options = previewOptionsOf(parseQuery(url, PreviewQuery));
  const file = await ctx.storage.volumeFile(uid);
  const preview = await ctx.volumes.use(file, (volume) => volumePreview(volume, { kind: "slice", z: Number(zText) }, options));
  sendImmutable(res, "image/jpeg", preview.jpeg);
};

export const getRaw: RouteHandler = async (ctx, { req, res, url, params: [uid] }) => {
  assertUid(uid);
  parseQuery(url, z.object({}));
  const file = await ctx.storage.volumeFile(uid);
  await sendFile(req, res, file, { contentType: "image/tiff", downloadName: `${uid}.tif` });
};

function channelOf(query: RenderQuery, geometry: VolumeGeometry): number {
  const c = query.c ?? 0;
  if (c >= geometry.size_c) throw new GentlyError("invalid_request", `c: must be in [0, ${geometry.size_c - 1}] for this volume`, "c");
  return c;
}

/** The window the query asks for; null for automatic contrast. */
function requestedWindow(query: RenderQuery): Window | null {
  if (query.min === undefined && query.max === undefined) return null;
  if (query.min === undefined) throw new GentlyError("invalid_request", "min: required together with max", "min");
  if (query.max === undefined) throw new GentlyError("invalid_request", "max: required together with min", "max");
  if (query.max <= query.min) throw new GentlyError("invalid_request", `max: must be greater than min (${query.min})`, "max");
  return { min: query.min, max: query.max };
}

/**
 * A plane as an 8-bit PNG, binned first when asked, under the requested
 * window or else the (binned) plane's 0.5-99.5 % percentiles.
 */
export function render(plane: Plane, width: number, height: number, bin: number, requested: Window | null): { png: Uint8Array; window: Window } {
  const binned = binPlane(plane, width, height, bin);
  if (binned.width < 1 || binned.height < 1) throw new GentlyError("invalid_request", `bin: must be at most ${Math.min(width, height)} for this ${width}x${height} plane`, "bin");
  const window = requested ?? autoWindow(binned.plane);
  return { png: encodeGray8Png(toGray8(binned.plane, window), binned.width, binned.height), window };
}
