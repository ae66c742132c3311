import { connect as natsConnect, type NatsConnection } from "@nats-io/transport-node";

export interface ClientOptions {
  /** default: GENTLY_NATS_URL, else nats://127.0.0.1:GENTLY_NATS_PORT (4222) */
  url?: string;
  user?: string;
  pass?: string;
  /** keep reconnecting after a drop (long-lived clients such as the copilot) */
  reconnect?: boolean;
  name?: string;
}

export function defaultNatsUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env.GENTLY_NATS_URL || `nats://127.0.0.1:${env.GENTLY_NATS_PORT || 4222}`;
}

/** Connects a client; fails fast when NATS is not reachable (a client should say so, not hang). */
export async function connectNats(opts: ClientOptions = {}): Promise<NatsConnection> {
  return natsConnect({
    servers: (opts.url ?? defaultNatsUrl()).split(","),
    user: opts.user ?? process.env.GENTLY_NATS_USER,
    pass: opts.pass ?? process.env.GENTLY_NATS_PASSWORD,
    name: opts.name ?? "gently-client",
    timeout: 3_000,
    maxReconnectAttempts: opts.reconnect === false ? 0 : -1,
    reconnectTimeWait: 500,
  });
}
