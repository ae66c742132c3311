import { writeFileSync } from "node:fs";
import path from "node:path";
import { newUid } from "@gently/protocol";
import { spawnService, startTestNats, type ServiceProcess, type TestNats } from "@gently/testing";

export interface AcquisitionServices {
  nats: TestNats;
  /** hardware, writer and plan-runner, in that order */
  services: ServiceProcess[];
  /** what a CLI run needs to reach them */
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

/** A nats-server and the hardware, writer and plan-runner processes the CLI's plan commands drive, on the simulator. */
export async function startAcquisitionServices(storageDir: string): Promise<AcquisitionServices> {
  const nats = await startTestNats();
  const simConfig = path.join(storageDir, "sim.json");
  // frames as fast as the sim gives them, so plans finish quickly
  writeFileSync(simConfig, JSON.stringify({ frame_interval_ms: 1 }));
  const env = {
    GENTLY_NATS_URL: nats.url,
    GENTLY_STORAGE: storageDir,
    GENTLY_CONFIG: simConfig,
    GENTLY_RING_PATH: `/dev/shm/gently-cli-test-${newUid()}`,
    GENTLY_RING_SLOTS: "8",
  };
  const services = ["hardware", "writer", "plan-runner"].map((name) => spawnService(name, env));
  await Promise.all(services.map((s) => s.waitForLog((l) => l.includes('"msg":"started"'), 45_000)));
  return {
    nats,
    services,
    env,
    async stop() {
      for (const s of [...services].reverse()) await s.stop();
      await nats.stop();
    },
  };
}
