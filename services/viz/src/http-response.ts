import type { ServerResponse } from "node:http";
import { GentlyError } from "@gently/protocol";
import { toGentlyError } from "@gently/bus";
import type { Logger } from "@gently/bus";

/** JSON reply; viz data changes as volumes arrive, so JSON is never cached. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(text),
    "Cache-Control": "no-store",
  });
  res.end(text);
}

/** Pixels of a written volume never change: its renderings may be cached by the browser. */
export function sendImmutable(res: ServerResponse, contentType: string, body: Uint8Array): void {
  res.writeHead(200, {
    "Content-Type": contentType,
    "Content-Length": body.byteLength,
    "Cache-Control": "private, max-age=86400, immutable",
  });
  res.end(body);
}

/** The error as the bus carries it ({error: {code, message, field}}), with the matching HTTP status. */
export function sendError(res: ServerResponse, err: unknown, logger: Logger): void {
  const error = err instanceof GentlyError ? err : toGentlyError(err);
  if (error.code === "internal") logger.error({ err }, "request failed unexpectedly");
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, error.status, error.toBody());
}
