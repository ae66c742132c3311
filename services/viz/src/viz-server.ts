import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { ENV_VARIABLES } from "@gently/config";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import type { NatsConnection } from "@nats-io/transport-node";
import { ensureStream, jetStreamOf, type Logger } from "@gently/bus";
import { ConnectionCap, DEFAULT_HTTP_HOST, HttpGuard, readyUrl, type HttpGuardSettings } from "@gently/http-guard";
import { GentlyError, streams } from "@gently/protocol";
import type { VizContext } from "./context";
import { sendError, sendJson } from "./http-response";
import { MipStore } from "./mip-store";
import { LiveFeed } from "./live-feed";
import { matchRoute } from "./routes";
import { StaticFiles } from "./static-files";
import { StoragePaths } from "./storage-paths";
import { VolumeCache } from "./volume-cache";

export interface VizServerOptions {
  nc: NatsConnection;
  storage: string;
  port: number;
  /** bind address, token and Host names (default: 127.0.0.1 only, no token) */
  http?: HttpGuardSettings;
  /** most SSE streams open at once (default 32) */
  maxSseStreams?: number;
  logger: Logger;
}

export interface VizServer {
  port: number;
  /** the URL to open, with the token when one is required */
  url: string;
  context: VizContext;
  stop(): Promise<void>;
}

const LOOPBACK_ONLY: HttpGuardSettings = { host: DEFAULT_HTTP_HOST, token: null, allowedHosts: [], cookieName: "gently_viz_token" };
export const DEFAULT_MAX_SSE_STREAMS = ENV_VARIABLES.GENTLY_SSE_MAX.fallback;

/** Longest request target viz reads (path and query). */
const MAX_URL_LENGTH = 2048;

/** The HTTP API and web page over one NATS connection and one storage root. */
export async function startVizServer(opts: VizServerOptions): Promise<VizServer> {
  const { jsm } = await jetStreamOf(opts.nc);
  // viz follows both streams and publishes MIPs into GENTLY_DATA; creating them is idempotent.
  await ensureStream(jsm, streams.data);
  await ensureStream(jsm, streams.runs);
  const context: VizContext = {
    nc: opts.nc,
    storage: await StoragePaths.open(opts.storage),
    volumes: new VolumeCache(),
    mips: new MipStore(opts.storage, opts.nc, opts.logger),
    logger: opts.logger,
    sseClients: new Set(),
    sseCap: new ConnectionCap(opts.maxSseStreams ?? DEFAULT_MAX_SSE_STREAMS, "SSE streams (GENTLY_SSE_MAX)"),
  };
  const http = opts.http ?? LOOPBACK_ONLY;
  const guard = new HttpGuard(http);
  const live = new LiveFeed(opts.nc, context.sseClients, opts.logger);
  const files = await StaticFiles.load();
  const server = createServer((req, res) => {
    if (guard.admit(req, res)) void handleRequest(context, files, req, res);
  });
  server.on("clientError", refuseUnparsable);
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, http.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = readyUrl(http, port);
  opts.logger.info({ port, host: http.host, url, token_required: http.token !== null, storage: context.storage.root }, "viz HTTP server listening");
  return {
    port,
    url,
    context,
    stop: async () => {
      live.stop();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // SSE streams never end by themselves; close them so server.close() can finish.
      server.closeAllConnections();
      await closed;
      await context.volumes.close();
    },
  };
}

async function handleRequest(ctx: VizContext, files: StaticFiles, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = performance.now();
  try {
    const target = req.url ?? "/";
    if (!target.startsWith("/") || target.startsWith("//") || target.length > MAX_URL_LENGTH) {
      throw new GentlyError("invalid_request", `path: must start with a single '/' and be at most ${MAX_URL_LENGTH} characters`, "path");
    }
    const url = new URL(target, "http://viz.local");
    const rawPath = target.split("?")[0];
    const match = matchRoute(req.method ?? "GET", rawPath);
    if (match && "allowed" in match) {
      res.setHeader("Allow", match.allowed.join(", "));
      sendJson(res, 405, new GentlyError("invalid_request", `method ${req.method} is not allowed (allowed: ${match.allowed.join(", ")})`, "method").toBody());
    } else if (match) {
      await match.handler(ctx, { req, res, url, params: match.params });
    } else if (!((req.method === "GET" || req.method === "HEAD") && files.serve(url.pathname, res))) {
      throw new GentlyError("not_found", `no such page or API: ${url.pathname}`, "path");
    }
  } catch (err) {
    if (isClientGone(err, res)) return;
    sendError(res, err, ctx.logger);
  } finally {
    ctx.logger.debug({ method: req.method, url: req.url, status: res.statusCode, ms: Math.round(performance.now() - started) }, "request");
  }
}

/**
 * Requests Node's HTTP parser refuses (a head over its 16 KB limit, raw
 * non-ASCII bytes in the path) never reach handleRequest; they are refused
 * like every other bad request, as a JSON error, not a bare 400/431.
 */
function refuseUnparsable(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === "ECONNRESET" || !socket.writable) {
    socket.destroy();
    return;
  }
  const message =
    err.code === "HPE_HEADER_OVERFLOW"
      ? "request: path, query and headers together are over 16 KB"
      : `request: not valid HTTP (${err.code ?? "unparsable"})`;
  const error = new GentlyError("invalid_request", message, "request");
  const body = JSON.stringify(error.toBody());
  socket.end(
    `HTTP/1.1 ${error.status} Bad Request\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** A browser that navigates away mid-download is not an error. */
function isClientGone(err: unknown, res: ServerResponse): boolean {
  const code = (err as NodeJS.ErrnoException)?.code;
  return res.destroyed && (code === "ERR_STREAM_PREMATURE_CLOSE" || code === "ECONNRESET" || code === "EPIPE");
}
