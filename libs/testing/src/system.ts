import { rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Credentials } from "@gently/bus";
import { newUid, SERVICE_NAMES } from "@gently/protocol";
import { freePort, REPO_ROOT } from "@gently/supervisor";
import { startAccountNats } from "./accounts";
import type { TestNats } from "./nats";
import { spawnTs, waitFor, type ServiceProcess } from "./process";

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
export async function startTestSystem(opts: { env?: NodeJS.ProcessEnv; services?: string[]; sim?: object } = {}): Promise<TestSystem> {
  const accounts = await startAccountNats("gently-system-");
  const { nats, creds: credentials, storage } = accounts;
  const simConfig = path.join(storage, "sim.json");
  writeFileSync(simConfig, JSON.stringify(opts.sim ?? SMALL_SAMPLE));
  const httpPort = await freePort();
  const apiPort = await freePort();
  const env: NodeJS.ProcessEnv = {
    GENTLY_NATS_URL: nats.url,
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
  const supervisor = spawnTs(path.join(REPO_ROOT, "libs/supervisor/src/main.ts"), env);
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
