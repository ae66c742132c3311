import { connect, type NatsConnection } from "@nats-io/transport-node";
import { inboxPrefixFor } from "@gently/protocol";
import type { Logger } from "./logger";

export interface ConnectOptions {
  /** one URL or several (a cluster) */
  servers: string | string[];
  /** connection name shown by the server (`nats server report connections`) */
  name: string;
  logger: Logger;
  user?: string;
  pass?: string;
}

/**
 * Connects and keeps connecting: waits for a server that is not up yet and
 * reconnects forever with jittered backoff, so a NATS restart never takes a
 * service down. Subscriptions and service endpoints are restored by the client.
 */
export async function connectBus(opts: ConnectOptions): Promise<NatsConnection> {
  const nc = await connect({
    servers: opts.servers,
    name: opts.name,
    user: opts.user,
    pass: opts.pass,
    // a private inbox per account, so nobody else can subscribe to our replies
    inboxPrefix: opts.user ? inboxPrefixFor(opts.user) : undefined,
    waitOnFirstConnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    reconnectJitter: 250,
    pingInterval: 5_000,
    maxPingOut: 3,
  });
  opts.logger.info({ server: nc.getServer() }, "connected to NATS");
  void logStatus(nc, opts.logger);
  return nc;
}

async function logStatus(nc: NatsConnection, logger: Logger): Promise<void> {
  for await (const status of nc.status()) {
    switch (status.type) {
      case "disconnect":
        logger.warn({ server: status.server }, "disconnected from NATS; reconnecting");
        break;
      case "reconnect":
        logger.info({ server: status.server }, "reconnected to NATS");
        break;
      case "error":
        logger.error({ err: status.error }, "NATS error");
        break;
      default:
        break;
    }
  }
}
