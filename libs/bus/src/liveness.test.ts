import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NatsConnection } from "@nats-io/transport-node";
import { spawnTs, startTestNats, waitFor, type ServiceProcess, type TestNats } from "@gently/testing";
import { connectBus, createLogger, jetStreamOf, Liveness } from "./index";

const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "test", "consumer-process.ts");
const logger = createLogger("liveness-test", "silent");

describe("liveness", () => {
  it("resolves stopped when a required part ends on its own, not when the process stops on purpose", async () => {
    const liveness = new Liveness();
    let ended: string | undefined;
    void liveness.stopped.then((r) => (ended = r));
    let finish!: () => void;
    liveness.require("consumer a", new Promise<void>((r) => (finish = r)));
    expect(liveness.report()).toEqual({ state: "up", reasons: [] });
    liveness.degrade("consumer a", "missed 2 heartbeats");
    expect(liveness.report()).toEqual({ state: "degraded", reasons: ["consumer a: missed 2 heartbeats"] });
    liveness.recover("consumer a");
    expect(liveness.report().state).toBe("up");
    finish();
    await waitFor(() => ended, 1_000, "stopped");
    expect(ended).toBe("consumer a ended");

    const stopping = new Liveness();
    let stoppedToo = false;
    void stopping.stopped.then(() => (stoppedToo = true));
    stopping.require("subscription b", Promise.reject(new Error("closed")));
    stopping.stop();
    await new Promise((r) => setTimeout(r, 50));
    expect(stoppedToo).toBe(false);
  });

  describe("a service process (runProcess) whose durable consumer is deleted", () => {
    let nats: TestNats;
    let nc: NatsConnection;
    const processes: ServiceProcess[] = [];

    beforeAll(async () => {
      nats = await startTestNats();
      nc = await connectBus({ servers: nats.url, name: "liveness-test", logger });
    });
    afterAll(async () => {
      for (const p of processes) await p.kill();
      await nc?.close();
      await nats?.stop();
    });

    it("exits non-zero naming the consumer (so the supervisor restarts it), and a restart consumes again", async () => {
      const env = { GENTLY_NATS_URL: nats.url };
      const first = spawnTs(FIXTURE, env);
      processes.push(first);
      await first.waitForLog((l) => l.includes('"msg":"started"'), 60_000);
      const { js, jsm } = await jetStreamOf(nc);
      await js.publish("test.liveness.one", new TextEncoder().encode("{}"));
      await first.waitForLog((l) => l.includes('"msg":"consumed"') && l.includes("test.liveness.one"), 10_000);

      await jsm.consumers.delete("LIVENESS_TEST", "liveness-fixture");
      const { code } = await first.exited;
      expect(code).toBe(1);
      const fatal = first.lines.find((l) => l.includes("a required part of the service stopped"));
      expect(fatal).toContain("consumer liveness-fixture on LIVENESS_TEST");

      // what the supervisor does next: start it again; it recreates the consumer and gets what was published meanwhile
      await js.publish("test.liveness.two", new TextEncoder().encode("{}"));
      const second = spawnTs(FIXTURE, env);
      processes.push(second);
      await second.waitForLog((l) => l.includes('"msg":"consumed"') && l.includes("test.liveness.two"), 60_000);
    }, 120_000);
  });
});
