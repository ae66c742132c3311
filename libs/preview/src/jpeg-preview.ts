import { encode } from "jpeg-js";
import { z } from "zod";
import { autoWindow, toGray8, type Window } from "./contrast";
import type { Plane } from "./tiff-volume";

/**
 * What the model is shown of an image or volume, as the copilot has always
 * shown it: stretched between two percentiles, at most `max_px` on its
 * longest side, JPEG. One schema for the viz routes, the HTTP API and MCP.
 */
export const PREVIEW_DEFAULTS = { max_px: 800, low_percent: 1, high_percent: 99.5, quality: 85 } as const;
export const PREVIEW_MAX_PX_LIMIT = 4096;
/** Most channels a volume can have; real limits come from the volume. */
export const PREVIEW_MAX_CHANNEL = 15;

const maxPx = z
  .number()
  .int()
  .min(16)
  .max(PREVIEW_MAX_PX_LIMIT)
  .describe(`longest side of the JPEG in pixels, 16-${PREVIEW_MAX_PX_LIMIT} (smaller images are not enlarged)`);
const lowPercent = z.number().min(0).max(100).describe("percentile mapped to black, 0-100");
const highPercent = z.number().min(0).max(100).describe("percentile mapped to white, 0-100, above the low one");
const channel = z
  .number()
  .int()
  .min(0)
  .max(PREVIEW_MAX_CHANNEL)
  .describe("camera channel to show; default every channel side by side (dual-camera volumes)");
const quality = z.number().int().min(1).max(100).describe("JPEG quality, 1-100");

/** The options' fields, for schemas that add their own (MCP's show_image); check them with `highAboveLow`. */
export const PreviewOptionFields = z
  .object({
    max_px: maxPx.default(PREVIEW_DEFAULTS.max_px),
    low_percent: lowPercent.default(PREVIEW_DEFAULTS.low_percent),
    high_percent: highPercent.default(PREVIEW_DEFAULTS.high_percent),
    channel: channel.optional(),
    quality: quality.default(PREVIEW_DEFAULTS.quality),
  })
  .strict();

export const highAboveLow: [(o: { low_percent: number; high_percent: number }) => boolean, { message: string; path: string[] }] = [
  (o) => o.high_percent > o.low_percent,
  { message: "must be greater than low_percent", path: ["high_percent"] },
];

export const PreviewOptions = PreviewOptionFields.refine(...highAboveLow);
export type PreviewOptions = z.output<typeof PreviewOptions>;

/** The same options as a URL query (`max`, `low`, `high`, `c`, `quality`), each a plain decimal number. */
export const PreviewQuery = z
  .object({
    max: decimal().pipe(maxPx).optional(),
    low: decimal().pipe(lowPercent).optional(),
    high: decimal().pipe(highPercent).optional(),
    c: decimal().pipe(channel).optional(),
    quality: decimal().pipe(quality).optional(),
  })
  .strict()
  .refine((q) => (q.high ?? PREVIEW_DEFAULTS.high_percent) > (q.low ?? PREVIEW_DEFAULTS.low_percent), { message: "must be greater than low", path: ["high"] });
export type PreviewQuery = z.output<typeof PreviewQuery>;

/** The options a parsed query asks for, defaults filled in. */
export function previewOptionsOf(query: PreviewQuery): PreviewOptions {
  return {
    max_px: query.max ?? PREVIEW_DEFAULTS.max_px,
    low_percent: query.low ?? PREVIEW_DEFAULTS.low_percent,
    high_percent: query.high ?? PREVIEW_DEFAULTS.high_percent,
    ...(query.c === undefined ? {} : { channel: query.c }),
    quality: query.quality ?? PREVIEW_DEFAULTS.quality,
  };
}

function decimal() {
  return z
    .string()
    .regex(/^\d{1,5}(\.\d{1,3})?$/, "must be a plain decimal number")
    .transform(Number);
}

/** One plane of pixels of one channel. */
export interface PreviewPlane {
  pixels: Plane;
  width: number;
  height: number;
}

export interface PreviewJpeg {
  jpeg: Uint8Array;
  width: number;
  height: number;
  /** the window each channel was stretched to, in sample values */
  windows: Window[];
}

/** Black pixels between channels shown side by side. */
const CHANNEL_GAP_PX = 4;

/**
 * Planes of one or more channels (a projection or a slice) as one JPEG:
 * each channel stretched between its own percentiles, channels placed side
 * by side along the image's short side (a 2048×512 light-sheet projection
 * pair stacks vertically), then shrunk by area averaging to max_px.
 */
export function previewJpeg(planes: readonly PreviewPlane[], options: PreviewOptions): PreviewJpeg {
  if (planes.length === 0) throw new Error("previewJpeg needs at least one plane");
  const { width, height } = planes[0];
  const windows = planes.map((p) => autoWindow(p.pixels, options.low_percent, options.high_percent));
  const grays = planes.map((p, i) => toGray8(p.pixels, windows[i]));
  const stackVertically = width >= height;
  const n = planes.length;
  const tiledWidth = stackVertically ? width : n * width + (n - 1) * CHANNEL_GAP_PX;
  const tiledHeight = stackVertically ? n * height + (n - 1) * CHANNEL_GAP_PX : height;
  const tiled = n === 1 ? grays[0] : new Uint8Array(tiledWidth * tiledHeight);
  if (n > 1) {
    grays.forEach((gray, i) => {
      const x0 = stackVertically ? 0 : i * (width + CHANNEL_GAP_PX);
      const y0 = stackVertically ? i * (height + CHANNEL_GAP_PX) : 0;
      for (let y = 0; y < height; y++) tiled.set(gray.subarray(y * width, (y + 1) * width), (y0 + y) * tiledWidth + x0);
    });
  }
  const scale = Math.min(1, options.max_px / Math.max(tiledWidth, tiledHeight));
  const outWidth = Math.max(1, Math.round(tiledWidth * scale));
  const outHeight = Math.max(1, Math.round(tiledHeight * scale));
  const shrunk = scale === 1 ? tiled : shrinkByAreaMean(tiled, tiledWidth, tiledHeight, outWidth, outHeight);
  return { jpeg: encodeGrayJpeg(shrunk, outWidth, outHeight, options.quality), width: outWidth, height: outHeight, windows };
}

/**
 * Each output pixel is the mean of the source pixels whose centres fall in
 * its footprint: no aliasing of the fine structure a nearest-pixel pick
 * would turn into noise.
 */
export function shrinkByAreaMean(src: Uint8Array, width: number, height: number, outWidth: number, outHeight: number): Uint8Array {
  const out = new Uint8Array(outWidth * outHeight);
  const xStart = new Int32Array(outWidth + 1);
  for (let ox = 0; ox <= outWidth; ox++) xStart[ox] = Math.min(width, Math.round((ox * width) / outWidth));
  const sums = new Float64Array(outWidth);
  for (let oy = 0; oy < outHeight; oy++) {
    const y0 = Math.round((oy * height) / outHeight);
    const y1 = Math.max(y0 + 1, Math.round(((oy + 1) * height) / outHeight));
    sums.fill(0);
    for (let y = y0; y < y1; y++) {
      const row = y * width;
      for (let ox = 0; ox < outWidth; ox++) {
        let s = 0;
        for (let x = xStart[ox], end = Math.max(xStart[ox] + 1, xStart[ox + 1]); x < end; x++) s += src[row + x];
        sums[ox] += s;
      }
    }
    for (let ox = 0; ox < outWidth; ox++) {
      const count = (y1 - y0) * Math.max(1, xStart[ox + 1] - xStart[ox]);
      out[oy * outWidth + ox] = Math.round(sums[ox] / count);
    }
  }
  return out;
}

function encodeGrayJpeg(gray: Uint8Array, width: number, height: number, quality: number): Uint8Array {
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0, j = 0; i < gray.length; i++, j += 4) {
    rgba[j] = rgba[j + 1] = rgba[j + 2] = gray[i];
    rgba[j + 3] = 255;
  }
  return new Uint8Array(encode({ data: rgba, width, height }, quality).data);
}
