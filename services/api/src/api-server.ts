import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "@gently/bus";
import type { GentlyClient } from "@gently/client";
import { HttpGuard, type HttpGuardSettings } from "@gently/http-guard";
import { DEFAULT_COPILOT_EXPOSURE_MS, GentlyError } from "@gently/protocol";
import type { ApiContext } from "./context";
import { sendError, sendJson } from "./http-io";
import { matchRoute } from "./routes";

export interface ApiServerOptions {
  client: GentlyClient;
  port: number;
  guard: HttpGuardSettings;
  logger: Logger;
}

export interface ApiServer {
  port: number;
  stop(): Promise<void>;
}

/** Longest request target the API reads (path and query). */
const MAX_URL_LENGTH = 2048;

/**
 * The HTTP API of the existing copilot, over the bus with the copilot's
 * client: it can do what the copilot may and nothing more.
 */
export async function startApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  const ctx: ApiContext = { client: opts.client, logger: opts.logger, defaults: { exposure_ms: DEFAULT_COPILOT_EXPOSURE_MS } };
  const guard = new HttpGuard(opts.guard);
  const server = createServer((req, res) => {
    // liveness for healthchecks: says nothing, so it needs no token
    if (req.method === "GET" && req.url === "/healthz") sendJson(res, 200, { ok: true });
    else if (guard.admit(req, res)) void handle(ctx, req, res);
  });
  // Node's default requestTimeout bounds receiving a request only, not the wait for its run (a calibration takes minutes)
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.guard.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  opts.logger.info({ port, host: opts.guard.host, token: opts.guard.token !== null }, "HTTP API listening");
  return {
    port,
    stop: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // requests waiting for a run would hold the server open; the run itself goes on in the plan runner
      server.closeAllConnections();
      await closed;
    },
  };
}

async function handle(ctx: ApiContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = performance.now();
  try {
    const target = req.url ?? "/";
    if (!target.startsWith("/") || target.startsWith("//") || target.length > MAX_URL_LENGTH) {
      throw new GentlyError("invalid_request", `path: must start with a single '/' and be at most ${MAX_URL_LENGTH} characters`, "path");
    }
    const { handler, params } = matchRoute(req.method ?? "GET", target.split("?")[0]);
    await handler(ctx, { req, res, url: new URL(target, "http://api.local"), params });
  } catch (err) {
    if (res.destroyed) return;
    if (!(err instanceof GentlyError)) ctx.logger.error({ err }, "request failed unexpectedly");
    sendError(res, err);
  } finally {
    ctx.logger.debug({ method: req.method, url: req.url?.split("?")[0], status: res.statusCode, ms: Math.round(performance.now() - started) }, "request");
  }
}
