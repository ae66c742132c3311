import type { IncomingMessage, ServerResponse } from "node:http";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "@gently/bus";
import type { ConnectionCap } from "@gently/http-guard";
import type { MipStore } from "./mip-store";
import type { StoragePaths } from "./storage-paths";
import type { VolumeCache } from "./volume-cache";

/** What every request handler of the viz server works with. */
export interface VizContext {
  nc: NatsConnection;
  storage: StoragePaths;
  volumes: VolumeCache;
  mips: MipStore;
  logger: Logger;
  /** open SSE streams, for the status endpoint */
  sseClients: Set<unknown>;
  /** at most this many SSE streams at once (GENTLY_SSE_MAX) */
  sseCap: ConnectionCap;
}

/** One HTTP request after routing: the decoded path parameters in route order. */
export interface RouteRequest {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: string[];
}

export type RouteHandler = (ctx: VizContext, request: RouteRequest) => Promise<void>;
