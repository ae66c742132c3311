import path from "node:path";
import { connect as natsConnect, type NatsConnection } from "@nats-io/transport-node";
import { ensureCredentials, passwordEnvironment, type Credentials } from "@gently/bus";
import { inboxPrefixFor, type NatsUser } from "@gently/protocol";
import { REPO_ROOT } from "@gently/supervisor";
import { startTestNats, type TestNats } from "./nats";
import { tempStorage } from "./storage";

/** A NATS server running the system's nats.conf, the accounts' passwords and a storage root they were generated in. */
export interface AccountNats {
  nats: TestNats;
  /** the passwords as `npm start` generates them, under {storage}/secrets */
  creds: Credentials;
  storage: string;
  /** a connection as one account, with its private inbox; reconnects forever. stop() closes it. */
  connectAs(user: NatsUser, url?: string): Promise<NatsConnection>;
  /** what a service process needs to run under its own account against this server */
  serviceEnv(user: NatsUser): NodeJS.ProcessEnv;
  /** closes connectAs's connections, stops the server and removes the storage */
  stop(): Promise<void>;
}

/** Connects as one account of nats.conf the way a service does: its inbox prefix, reconnecting forever. */
export function connectAccount(servers: string, creds: Credentials, user: NatsUser): Promise<NatsConnection> {
  return natsConnect({
    servers,
    user,
    pass: creds[user],
    inboxPrefix: inboxPrefixFor(user),
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
  });
}

/**
 * A real nats-server with the least-privilege accounts of nats.conf, for
 * tests that prove a service works (or is refused) under its own account.
 */
export async function startAccountNats(storagePrefix = "gently-accounts-"): Promise<AccountNats> {
  const storage = tempStorage(storagePrefix);
  const creds = ensureCredentials(storage.dir);
  const nats = await startTestNats({ configFile: path.join(REPO_ROOT, "nats.conf"), env: passwordEnvironment(creds) });
  const opened: NatsConnection[] = [];
  return {
    nats,
    creds,
    storage: storage.dir,
    async connectAs(user, url = nats.url) {
      const nc = await connectAccount(url, creds, user);
      opened.push(nc);
      return nc;
    },
    serviceEnv: (user) => ({ GENTLY_NATS_URL: nats.url, GENTLY_STORAGE: storage.dir, GENTLY_NATS_USER: user, GENTLY_NATS_PASSWORD: creds[user] }),
    async stop() {
      await Promise.all(opened.map((nc) => nc.close()));
      await nats.stop();
      storage.remove();
    },
  };
}
