import type { IncomingMessage, ServerResponse } from "node:http";
import type { z } from "zod";
import { toGentlyError } from "@gently/bus";
import { GentlyError } from "@gently/protocol";

/** Largest request body the API reads: tool parameters are small. */
export const MAX_BODY_BYTES = 1024 * 1024;

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(text), "Cache-Control": "no-store" });
  res.end(text);
}

/**
 * The error as JSON with its HTTP status: `{success: false, msg, error: {code, message, field}}`
 * (`success` and `msg` are what the copilot's client reads, `error` what gently's clients read).
 */
export function sendError(res: ServerResponse, err: unknown): void {
  const error = err instanceof GentlyError ? err : toGentlyError(err);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, error.status, { success: false, msg: error.message, ...error.toBody() });
}

/** Reads a JSON body and validates it: over-long, non-JSON or schema-failing bodies are refused naming the field. */
export async function readBody<S extends z.ZodType>(req: IncomingMessage, schema: S): Promise<z.output<S>> {
  const type = req.headers["content-type"] ?? "";
  if (type && !/^application\/json\b/i.test(type)) {
    throw new GentlyError("invalid_request", `content-type: must be application/json, got '${type.slice(0, 64)}'`, "content-type");
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new GentlyError("invalid_request", `body: larger than ${MAX_BODY_BYTES} bytes`, "body");
    chunks.push(chunk);
  }
  let json: unknown;
  try {
    json = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
  } catch (err) {
    throw new GentlyError("invalid_request", `body: not JSON (${(err as Error).message})`, "body");
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw GentlyError.fromZod(parsed.error, "", json);
  return parsed.data;
}
