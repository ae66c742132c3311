import type { NatsConnection } from "@nats-io/transport-node";
import type { JetStreamClient } from "@nats-io/jetstream";
import { connectBus, createLogger, ensureStream, jetStreamOf } from "@gently/bus";
import { streams } from "@gently/protocol";
import { freePort } from "@gently/supervisor";
import { spawnService, startTestNats, tempStorage, type ServiceProcess, type TestNats } from "@gently/testing";

export interface VizHarness {
  nats: TestNats;
  storage: string;
  nc: NatsConnection;
  js: JetStreamClient;
  viz: ServiceProcess;
  indexer: ServiceProcess | null;
  /** http://127.0.0.1:<port> of the viz process */
  base: string;
  stop(): Promise<void>;
}

/**
 * A real nats-server, a temp storage root, the viz service as its own OS
 * process and, when asked, the indexer beside it: the system as viz meets it.
 */
export async function startVizHarness(opts: { indexer: boolean }): Promise<VizHarness> {
  const nats = await startTestNats();
  const storage = tempStorage("gently-viz-test-");
  const nc = await connectBus({ servers: nats.url, name: "viz-test", logger: createLogger("viz-test", "silent") });
  const { js, jsm } = await jetStreamOf(nc);
  await ensureStream(jsm, streams.data);
  await ensureStream(jsm, streams.runs);
  const port = await freePort();
  const env = { GENTLY_NATS_URL: nats.url, GENTLY_STORAGE: storage.dir, GENTLY_HTTP_PORT: String(port) };
  const indexer = opts.indexer ? spawnService("indexer", env) : null;
  const viz = spawnService("viz", env);
  await viz.waitForLog((l) => l.includes('"service registered"'));
  if (indexer) await indexer.waitForLog((l) => l.includes('"service registered"'));
  return {
    nats,
    storage: storage.dir,
    nc,
    js,
    viz,
    indexer,
    base: `http://127.0.0.1:${port}`,
    stop: async () => {
      await viz.stop();
      await indexer?.stop();
      await nc.close();
      await nats.stop();
      storage.remove();
    },
  };
}
