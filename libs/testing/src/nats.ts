import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { freePort, NatsServerProcess } from "@gently/supervisor";

export interface TestNats {
  url: string;
  port: number;
  storeDir: string;
  /** SIGKILL the server (a crash) */
  kill(): Promise<void>;
  /** start it again on the same port and store: JetStream state survives */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A real nats-server with JetStream for one test file: a free port and a
 * temporary store. With GENTLY_TESTCONTAINERS=1 (and a Docker engine) the
 * server runs in a container instead; everything else is identical.
 */
export async function startTestNats(
  opts: { configFile?: string; args?: string[]; env?: Record<string, string> } = {},
): Promise<TestNats> {
  if (process.env.GENTLY_TESTCONTAINERS === "1") return startContainerNats();
  const storeDir = mkdtempSync(path.join(os.tmpdir(), "gently-nats-"));
  const port = await freePort();
  const serverOptions = { port, storeDir, configFile: opts.configFile, args: opts.args, env: opts.env };
  let server = new NatsServerProcess(serverOptions);
  await server.start();
  return {
    url: server.url,
    port,
    storeDir,
    kill: () => server.kill(),
    restart: async () => {
      await server.kill();
      server = new NatsServerProcess(serverOptions);
      await server.start();
    },
    stop: async () => {
      await server.stop();
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}

async function startContainerNats(): Promise<TestNats> {
  const { GenericContainer, Wait } = await import("testcontainers");
  const image = process.env.GENTLY_NATS_IMAGE ?? "nats:2.10";
  const start = () =>
    new GenericContainer(image)
      .withCommand(["-js", "-sd", "/data"])
      .withExposedPorts(4222)
      .withWaitStrategy(Wait.forLogMessage(/Server is ready/))
      .start();
  let container = await start();
  const url = () => `nats://${container.getHost()}:${container.getMappedPort(4222)}`;
  return {
    get url() {
      return url();
    },
    get port() {
      return container.getMappedPort(4222);
    },
    storeDir: "/data",
    kill: async () => {
      await container.stop({ timeout: 0 });
    },
    restart: async () => {
      await container.restart();
    },
    stop: async () => {
      await container.stop();
    },
  };
}
