import path from "node:path";
import { connect as natsConnect, type NatsConnection } from "@nats-io/transport-node";
import { readAccountPassword } from "@gently/bus";
import { inboxPrefixFor } from "@gently/protocol";

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

/**
 * The account a client uses: given explicitly, else GENTLY_NATS_USER /
 * GENTLY_NATS_PASSWORD, else the copilot account's own file under the
 * storage root ({storage}/secrets/nats-copilot.password, written by `npm
 * start`; the only secret a copilot host needs).
 */
function clientAccount(opts: ClientOptions): { user?: string; pass?: string } {
  if (opts.user) return { user: opts.user, pass: opts.pass };
  if (process.env.GENTLY_NATS_USER) return { user: process.env.GENTLY_NATS_USER, pass: process.env.GENTLY_NATS_PASSWORD };
  const stored = readAccountPassword(path.resolve(process.env.GENTLY_STORAGE || "./storage"), "copilot");
  return stored ? { user: "copilot", pass: stored } : {};
}

/** Connects a client; fails fast when NATS is not reachable (a client should say so, not hang). */
export async function connectNats(opts: ClientOptions = {}): Promise<NatsConnection> {
  const account = clientAccount(opts);
  return natsConnect({
    servers: (opts.url ?? defaultNatsUrl()).split(","),
    user: account.user,
    pass: account.pass,
    inboxPrefix: account.user ? inboxPrefixFor(account.user) : undefined,
    name: opts.name ?? "gently-client",
    timeout: 3_000,
    maxReconnectAttempts: opts.reconnect === false ? 0 : -1,
    reconnectTimeWait: 500,
  });
}
