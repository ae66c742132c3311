import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import type { NatsConnection } from "@nats-io/transport-node";
import { connectBus, createLogger, handle, processLiveness, startMicroService } from "@gently/bus";
import { endpoint } from "@gently/protocol";
import { REPO_ROOT } from "@gently/supervisor";
import { spawnTs, startTestNats, type TestNats } from "@gently/testing";
import { systemStatus } from "./status";

const CLI = path.join(REPO_ROOT, "libs", "cli", "src", "main.ts");
const logger = createLogger("status-test", "silent");
const ping = endpoint("ping", "test.status.ping", z.object({}), z.object({}), "answers");

async function gentlyStatus(url: string): Promise<{ code: number | null; out: string }> {
  const p = spawnTs(CLI, { GENTLY_LOG_LEVEL: "silent", GENTLY_NATS_URL: url, GENTLY_STORAGE: "/nonexistent" }, ["status", "--service", "indexer"]);
  const { code } = await p.exited;
  return { code, out: p.lines.join("\n") };
}

describe("system status: up, degraded, down", () => {
  let nats: TestNats;
  let nc: NatsConnection;

  beforeAll(async () => {
    nats = await startTestNats();
    nc = await connectBus({ servers: nats.url, name: "status-test", logger });
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  it("tells a degraded instance (answers, but a part says it does not work) from an up and a down one", async () => {
    expect((await systemStatus(nc, ["indexer"])).services[0]).toMatchObject({ state: "down", up: false });

    // this test process stands in for the indexer: the same bus helpers, the same liveness
    const service = await startMicroService(nc, { name: "indexer", version: "0.0.0", description: "test", logger, handlers: [handle(ping, () => ({}))] });
    try {
      const up = await systemStatus(nc, ["indexer"]);
      expect(up.services[0]).toMatchObject({ state: "up", up: true, reasons: [] });
      expect(up.healthy).toBe(true);

      processLiveness.degrade("consumer indexer on GENTLY_DATA", "consumer deleted");
      const degraded = await systemStatus(nc, ["indexer"]);
      expect(degraded.services[0]).toMatchObject({ state: "degraded", up: true, reasons: ["consumer indexer on GENTLY_DATA: consumer deleted"] });
      expect(degraded.healthy).toBe(false);
      const cli = await gentlyStatus(nats.url);
      expect(cli.code).toBe(3);
      expect(cli.out).toMatch(/indexer\s+DEGRADED/);
      expect(cli.out).toContain("indexer degraded: consumer indexer on GENTLY_DATA: consumer deleted");

      processLiveness.recover("consumer indexer on GENTLY_DATA");
      expect((await systemStatus(nc, ["indexer"])).services[0]!.state).toBe("up");
      const cliUp = await gentlyStatus(nats.url);
      expect(cliUp.code).toBe(0);
      expect(cliUp.out).toMatch(/indexer\s+up/);
    } finally {
      processLiveness.stop();
      await service.stop();
    }
  }, 60_000);
});
