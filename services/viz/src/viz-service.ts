import type { NatsConnection } from "@nats-io/transport-node";
import { handle, startMicroService, type Logger } from "@gently/bus";
import { viz } from "@gently/protocol";
import type { VizServer } from "./viz-server";

export const VIZ_VERSION = "0.1.0";

/** Registers gently-viz with the micro-services protocol, so `gently status` lists it next to the others. */
export async function registerVizService(nc: NatsConnection, server: VizServer, logger: Logger) {
  const startedAt = Date.now();
  return startMicroService(nc, {
    name: "viz",
    version: VIZ_VERSION,
    description: "HTTP API and web viewer: slices, MIPs, raw files, live events",
    logger,
    metadata: { http_port: String(server.port) },
    handlers: [
      handle(viz.status, () => ({
        http_port: server.port,
        sse_clients: server.context.sseClients.size,
        uptime_s: (Date.now() - startedAt) / 1000,
      })),
    ],
  });
}
