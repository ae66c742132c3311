import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { pipeline } from "node:stream/promises";
import { GentlyError } from "@gently/protocol";
import { sendJson } from "./http-response";

export type ByteRange = { start: number; end: number } | "unsatisfiable" | null;

/**
 * Reads a single `bytes=` range (first-last, first-, -suffix) against a file
 * of `size` bytes. null means serve the whole file (no header, or a form
 * this server ignores, such as several ranges, as RFC 9110 allows).
 */
export function parseRange(header: string | undefined, size: number): ByteRange {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return null;
  const [, first, last] = m;
  if (first === "" && last === "") return null;
  if (first === "") {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  if (start >= size) return "unsatisfiable";
  const end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
  if (end < start) return null;
  return { start, end };
}

/** Streams a file (or the requested byte range of it) without holding it in memory. */
export async function sendFile(
  req: IncomingMessage,
  res: ServerResponse,
  file: string,
  headers: { contentType: string; downloadName: string },
): Promise<void> {
  const { size } = await stat(file);
  const range = parseRange(req.headers.range, size);
  const common = {
    "Content-Type": headers.contentType,
    "Accept-Ranges": "bytes",
    "Content-Disposition": `attachment; filename="${headers.downloadName}"`,
    "Cache-Control": "private, max-age=86400, immutable",
  };
  if (range === "unsatisfiable") {
    // refused like every other request, as JSON; Content-Range tells the size to ask within
    res.setHeader("Content-Range", `bytes */${size}`);
    sendJson(res, 416, new GentlyError("invalid_request", `range: outside the file's ${size} bytes`, "range").toBody());
    return;
  }
  const { start, end } = range ?? { start: 0, end: size - 1 };
  const length = size === 0 ? 0 : end - start + 1;
  res.writeHead(range ? 206 : 200, {
    ...common,
    "Content-Length": length,
    ...(range ? { "Content-Range": `bytes ${start}-${end}/${size}` } : {}),
  });
  if (req.method === "HEAD" || length === 0) {
    res.end();
    return;
  }
  await pipeline(createReadStream(file, { start, end }), res);
}
