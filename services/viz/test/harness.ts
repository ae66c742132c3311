import { writeFileSync } from "node:fs";
import path from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import type { JetStreamClient } from "@nats-io/jetstream";
import { call, connectBus, createLogger, ensureStream, jetStreamOf } from "@gently/bus";
import { hw, newUid, streams } from "@gently/protocol";
import { freePort } from "@gently/supervisor";
import { spawnService, startTestNats, tempStorage, type ServiceProcess, type TestNats } from "@gently/testing";

export interface VizHarness {
  nats: TestNats;
  storage: string;
  nc: NatsConnection;
  js: JetStreamClient;
  viz: ServiceProcess;
  indexer: ServiceProcess | null;
  /** hardware, writer and plan-runner on the simulated microscope, when asked for */
  microscope: ServiceProcess[];
  /** http://127.0.0.1:<port> of the viz process */
  base: string;
  stop(): Promise<void>;
}

/** Small frames keep the suite fast; the ROI sits in the middle of the sensor, over the simulated embryo. */
export const TEST_ROI = { x: 896, y: 960, width: 256, height: 128 };

/**
 * A real nats-server, a temp storage root, the viz service as its own OS
 * process and, when asked, the indexer and the simulated microscope
 * (hardware, writer, plan-runner) beside it: the system as viz meets it.
 */
export async function startVizHarness(opts: { indexer: boolean; microscope?: boolean }): Promise<VizHarness> {
  const nats = await startTestNats();
  const storage = tempStorage("gently-viz-test-");
  const nc = await connectBus({ servers: nats.url, name: "viz-test", logger: createLogger("viz-test", "silent") });
  const { js, jsm } = await jetStreamOf(nc);
  await ensureStream(jsm, streams.data);
  await ensureStream(jsm, streams.runs);
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { GENTLY_NATS_URL: nats.url, GENTLY_STORAGE: storage.dir, GENTLY_HTTP_PORT: String(port) };
  if (opts.microscope) {
    // one embryo under the start position (1500, 0); frames take the simulated camera's time (exposure + readout)
    const simConfig = path.join(storage.dir, "sim.json");
    writeFileSync(simConfig, JSON.stringify({ embryos: [{ x_um: 1500, y_um: 0, z_um: 0, a_um: 25, b_um: 15, c_um: 15, angle_deg: 0 }] }));
    Object.assign(env, { GENTLY_CONFIG: simConfig, GENTLY_RING_PATH: `/dev/shm/gently-viz-test-${newUid()}`, GENTLY_RING_SLOTS: "8" });
  }
  const started = (p: ServiceProcess) => p.waitForLog((l) => l.includes('"msg":"started"'), 45_000);
  const indexer = opts.indexer ? spawnService("indexer", env) : null;
  const viz = spawnService("viz", env);
  const microscope = opts.microscope ? [spawnService("hardware", env), spawnService("writer", env)] : [];
  await Promise.all([viz, ...(indexer ? [indexer] : []), ...microscope].map(started));
  if (opts.microscope) {
    for (const camera of ["HamCam1", "HamCam2"] as const) await call(nc, hw.setCamera, { camera, roi: TEST_ROI });
    const planRunner = spawnService("plan-runner", env);
    microscope.push(planRunner);
    await started(planRunner);
  }
  return {
    nats,
    storage: storage.dir,
    nc,
    js,
    viz,
    indexer,
    microscope,
    base: `http://127.0.0.1:${port}`,
    stop: async () => {
      // the plan runner first, the hardware last: the order the system winds down in
      for (const p of [...microscope].reverse()) await p.stop();
      await viz.stop();
      await indexer?.stop();
      await nc.close();
      await nats.stop();
      storage.remove();
    },
  };
}
