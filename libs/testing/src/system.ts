import { rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Credentials } from "@gently/bus";
import { newUid, SERVICE_NAMES } from "@gently/protocol";
import { freePort, REPO_ROOT } from "@gently/supervisor";
import { ensureCredentials } from "@gently/bus";
import { connectAccount, startAccountNats, type AccountNats } from "./accounts";
import type { TestNats } from "./nats";
import { isAlive, spawnTs, waitFor, type ServiceProcess } from "./process";

export interface TestSystem {
  nats: TestNats;
  storage: string;
  credentials: Credentials;
  supervisor: ServiceProcess;
  httpPort: number;
  /** port of the HTTP API for the copilot (services/api), when it is among the services */
  apiPort: number;
  /** environment of the system's processes (NATS URL, storage, ring path, …) */
  env: NodeJS.ProcessEnv;
  /** the pid the supervisor last started for a service */
  pidOf(service: string): number;
  /** a connection under one of the system's accounts */
  connectAs(user: keyof Credentials): Promise<NatsConnection>;
  stop(): Promise<void>;
}

/** One embryo under the start position, frames paced a little: a fast, predictable sample. */
export const SMALL_SAMPLE = {
  frame_interval_ms: 2,
  embryos: [{ x_um: 1500, y_um: 0, z_um: 0, a_um: 25, b_um: 15, c_um: 15, angle_deg: 0 }],
};

/**
 * The whole system as `npm start` runs it (supervisor, every service as its
 * own process, each under its own least-privilege account of nats.conf),
 * against a test nats-server that the test can kill and restart.
 */
export interface TestSystemOptions {
  env?: NodeJS.ProcessEnv;
  services?: string[];
  sim?: object;
  /**
   * Let the supervisor run its embedded nats-server, as `npm start` does (the test kills it through
   * `nats.kill()`; the supervisor restarts it), with this storage root (e.g. a small filesystem the
   * test mounted); JetStream's store is {storage}/nats unless env sets GENTLY_JETSTREAM_DIR.
   */
  embeddedNats?: { storage: string };
  /** run the compiled supervisor (libs/supervisor/dist, `npm run build` first), which starts the services' compiled entries */
  compiled?: boolean;
}

export async function startTestSystem(opts: TestSystemOptions = {}): Promise<TestSystem> {
  const accounts = opts.embeddedNats ? await embeddedAccounts(opts.embeddedNats.storage) : await startAccountNats("gently-system-");
  const { creds: credentials, storage } = accounts;
  let nats = accounts.nats;
  const simConfig = path.join(storage, "sim.json");
  writeFileSync(simConfig, JSON.stringify(opts.sim ?? SMALL_SAMPLE));
  const httpPort = await freePort();
  const apiPort = await freePort();
  const env: NodeJS.ProcessEnv = {
    GENTLY_NATS_URL: opts.embeddedNats ? "" : nats.url,
    GENTLY_NATS_PORT: String(nats.port),
    GENTLY_STORAGE: storage,
    GENTLY_HTTP_PORT: String(httpPort),
    GENTLY_API_PORT: String(apiPort),
    GENTLY_CONFIG: simConfig,
    GENTLY_RING_PATH: `/dev/shm/gently-system-${newUid()}`,
    GENTLY_RING_SLOTS: "8",
    GENTLY_SERVICES: (opts.services ?? SERVICE_NAMES).join(","),
    GENTLY_LOG_LEVEL: "info",
    ...opts.env,
  };
  const supervisor = spawnTs(path.join(REPO_ROOT, opts.compiled ? "libs/supervisor/dist/main.js" : "libs/supervisor/src/main.ts"), env);
  if (opts.embeddedNats) nats = embeddedNats(supervisor, nats.port, String(env.GENTLY_JETSTREAM_DIR || path.join(storage, "nats")));
  const pidOf = (service: string): number => {
    const started = supervisor.lines
      .filter((l) => l.includes('"child started"'))
      .map((l) => JSON.parse(l) as { child: string; pid: number })
      .filter((l) => l.child === service);
    const last = started[started.length - 1];
    if (!last) throw new Error(`the supervisor has not started ${service}`);
    return last.pid;
  };
  const system: TestSystem = {
    nats,
    storage,
    credentials,
    supervisor,
    httpPort,
    apiPort,
    env,
    pidOf,
    connectAs: (user) => accounts.connectAs(user),
    stop: async () => {
      await supervisor.stop();
      await accounts.stop();
      // a hardware service killed during the test cannot unlink its ring
      rmSync(String(env.GENTLY_RING_PATH), { force: true });
    },
  };
  const services = opts.services ?? [...SERVICE_NAMES];
  await waitFor(
    () => services.every((s) => supervisor.lines.some((l) => l.includes('"msg":"started"') && l.includes(`"service":"${s}"`))),
    90_000,
    `services ${services.join(", ")} to start`,
  );
  return system;
}

/** The accounts of a system whose supervisor runs the embedded nats-server on a free port. */
async function embeddedAccounts(storage: string): Promise<AccountNats> {
  const creds = ensureCredentials(storage);
  const port = await freePort();
  const opened: NatsConnection[] = [];
  const url = `nats://127.0.0.1:${port}`;
  const notYet = async () => {
    throw new Error("the embedded nats-server belongs to the supervisor");
  };
  return {
    nats: { url, port, storeDir: path.join(storage, "nats"), kill: notYet, restart: notYet, stop: async () => undefined },
    creds,
    storage,
    async connectAs(user) {
      const nc = await connectAccount(url, creds, user);
      opened.push(nc);
      return nc;
    },
    serviceEnv: (user) => ({ GENTLY_NATS_URL: url, GENTLY_STORAGE: storage, GENTLY_NATS_USER: user, GENTLY_NATS_PASSWORD: creds[user] }),
    async stop() {
      await Promise.all(opened.map((nc) => nc.close()));
    },
  };
}

/** The supervisor's own nats-server: killed by pid (from its log); the supervisor brings it back. */
function embeddedNats(supervisor: ServiceProcess, port: number, storeDir: string): TestNats {
  const natsPid = (): number => {
    const started = supervisor.lines.filter((l) => /"embedded nats-server (started|restarted)"/.test(l));
    const last = started[started.length - 1];
    if (!last) throw new Error("the supervisor has not started its nats-server");
    return (JSON.parse(last) as { pid: number }).pid;
  };
  const restarts = () => supervisor.lines.filter((l) => l.includes('"embedded nats-server restarted"')).length;
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    kill: async () => {
      const pid = natsPid();
      process.kill(pid, "SIGKILL");
      await waitFor(() => !isAlive(pid), 10_000, "nats-server to die");
    },
    restart: async () => {
      const before = restarts();
      process.kill(natsPid(), "SIGKILL");
      await waitFor(() => restarts() > before, 30_000, "the supervisor to restart nats-server");
    },
    // the supervisor stops it with the system
    stop: async () => undefined,
  };
}
