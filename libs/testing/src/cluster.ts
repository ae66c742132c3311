import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { connect } from "@nats-io/transport-node";
import { inboxPrefixFor } from "@gently/protocol";
import { freePort, NatsServerProcess } from "@gently/supervisor";

export interface ClusterNode {
  name: string;
  url: string;
  kill(): Promise<void>;
  restart(): Promise<void>;
}

export interface TestCluster {
  nodes: ClusterNode[];
  /** every node's client URL, comma-separated (GENTLY_NATS_URL form) */
  urls: string;
  stop(): Promise<void>;
}

/**
 * A real NATS cluster on loopback: n nodes with routes to each other and
 * JetStream, so streams can be replicated (R3 with three nodes).
 */
export async function startTestCluster(
  size = 3,
  opts: { configFile?: string; env?: Record<string, string> } = {},
): Promise<TestCluster> {
  const base = mkdtempSync(path.join(os.tmpdir(), "gently-cluster-"));
  const clientPorts = await Promise.all(Array.from({ length: size }, () => freePort()));
  const routePorts = await Promise.all(Array.from({ length: size }, () => freePort()));
  const routes = routePorts.map((p) => `nats://127.0.0.1:${p}`).join(",");
  const specs = clientPorts.map((port, i) => ({
    name: `n${i + 1}`,
    port,
    storeDir: path.join(base, `n${i + 1}`),
    configFile: opts.configFile,
    env: opts.env,
    args: ["-n", `gently-n${i + 1}`, "--cluster_name", "gently", "--cluster", `nats://127.0.0.1:${routePorts[i]}`, "--routes", routes],
  }));
  const servers = specs.map((spec) => new NatsServerProcess(spec));
  await Promise.all(servers.map((s) => s.start()));
  await waitForJetStreamLeader(servers[0]!.url, opts.env ? { user: "indexer", pass: opts.env.GENTLY_PW_INDEXER } : {});
  const nodes: ClusterNode[] = specs.map((spec, i) => ({
    name: spec.name,
    url: servers[i]!.url,
    kill: () => servers[i]!.kill(),
    restart: async () => {
      await servers[i]!.kill();
      servers[i] = new NatsServerProcess(spec);
      await servers[i]!.start();
    },
  }));
  return {
    nodes,
    urls: nodes.map((n) => n.url).join(","),
    stop: async () => {
      await Promise.all(servers.map((s) => s.stop()));
      rmSync(base, { recursive: true, force: true });
    },
  };
}

/** A JetStream cluster answers its API only once the nodes have elected a meta leader. */
async function waitForJetStreamLeader(url: string, auth: { user?: string; pass?: string }): Promise<void> {
  const nc = await connect({ servers: url, ...auth, inboxPrefix: auth.user ? inboxPrefixFor(auth.user) : undefined });
  try {
    const deadline = Date.now() + 30_000;
    let last = "";
    while (Date.now() < deadline) {
      try {
        last = (await nc.request("$JS.API.INFO", undefined, { timeout: 1_000 })).string();
        if (!last.includes('"error"')) return;
      } catch (err) {
        last = String(err);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`JetStream cluster has no leader after 30 s: ${last}`);
  } finally {
    await nc.close();
  }
}
