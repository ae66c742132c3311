import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { startTestNats, type TestNats } from "@gently/testing";
import { connectBus } from "./connection";
import { createLogger } from "./logger";
import { isConsumerNotFound, isNoResponders, isRequestTimeout, isStreamNameInUse, isStreamNotFound, isTransientNatsError } from "./nats-errors";
import { retryWithBackoff } from "./retry";

const rejection = async (op: () => Promise<unknown>): Promise<unknown> => {
  try {
    await op();
  } catch (err) {
    return err;
  }
  throw new Error("it did not fail");
};

describe("nats.js errors, told apart by type and code", () => {
  let nats: TestNats;
  let nc: NatsConnection;
  let jsm: JetStreamManager;

  beforeAll(async () => {
    nats = await startTestNats();
    nc = await connectBus({ servers: nats.url, name: "errors", logger: createLogger("errors", "silent") });
    jsm = await jetstreamManager(nc);
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  it("a request nobody answers, and one answered too late", async () => {
    const noOne = await rejection(() => nc.request("test.errors.nobody", new Uint8Array(), { timeout: 1_000 }));
    expect(isNoResponders(noOne)).toBe(true);
    expect(isRequestTimeout(noOne)).toBe(false);
    expect(isTransientNatsError(noOne)).toBe(true);
    const sub = nc.subscribe("test.errors.silent"); // subscribed, never replies
    const late = await rejection(() => nc.request("test.errors.silent", new Uint8Array(), { timeout: 200 }));
    sub.unsubscribe();
    expect(isRequestTimeout(late)).toBe(true);
    expect(isNoResponders(late)).toBe(false);
    expect(isTransientNatsError(late)).toBe(true);
  });

  it("a missing stream, a missing consumer, a stream name taken", async () => {
    const missing = await rejection(() => jsm.streams.info("NO_SUCH_STREAM"));
    expect(isStreamNotFound(missing)).toBe(true);
    expect(isTransientNatsError(missing)).toBe(false);
    await jsm.streams.add({ name: "ERRORS_TAKEN", subjects: ["test.errors.taken"] });
    const taken = await rejection(() => jsm.streams.add({ name: "ERRORS_TAKEN", subjects: ["test.errors.other"] }));
    expect(isStreamNameInUse(taken)).toBe(true);
    expect(isStreamNotFound(taken)).toBe(false);
    const noConsumer = await rejection(() => jsm.consumers.info("ERRORS_TAKEN", "nobody"));
    expect(isConsumerNotFound(noConsumer)).toBe(true);
    expect(isStreamNotFound(noConsumer)).toBe(false);
  });

  it("JetStream coming back after a NATS restart is transient; a retry outlasts it", async () => {
    await nats.kill();
    const restarted = nats.restart();
    let failures = 0;
    const info = await retryWithBackoff(() => jsm.streams.info("ERRORS_TAKEN"), {
      firstDelayMs: 50,
      maxDelayMs: 500,
      giveUpAfterMs: 30_000,
      isRetryable: isTransientNatsError,
      onRetry: () => failures++,
    });
    await restarted;
    expect(info.config.name).toBe("ERRORS_TAKEN");
    expect(failures).toBeGreaterThan(0);
  }, 40_000);
});

describe("retryWithBackoff", () => {
  it("retries what is retryable with growing waits until it succeeds", async () => {
    const waits: number[] = [];
    let calls = 0;
    const value = await retryWithBackoff(
      async () => {
        if (++calls < 4) throw new Error("not yet");
        return "done";
      },
      { firstDelayMs: 10, maxDelayMs: 30, giveUpAfterMs: 5_000, onRetry: (_err, delay) => waits.push(delay) },
    );
    expect(value).toBe("done");
    expect(waits).toEqual([10, 20, 30]);
  });

  it("throws at once what is not retryable, or once stopped", async () => {
    let calls = 0;
    const fatal = new Error("bad request");
    await expect(retryWithBackoff(async () => { calls++; throw fatal; }, { firstDelayMs: 10, maxDelayMs: 10, giveUpAfterMs: 5_000, isRetryable: (e) => e !== fatal })).rejects.toBe(fatal);
    expect(calls).toBe(1);
    await expect(retryWithBackoff(async () => { calls++; throw new Error("down"); }, { firstDelayMs: 10, maxDelayMs: 10, giveUpAfterMs: 5_000, shouldStop: () => true })).rejects.toThrow("down");
    expect(calls).toBe(2);
  });

  it("gives up with the last error once the next wait would pass the deadline", async () => {
    const started = Date.now();
    let calls = 0;
    await expect(retryWithBackoff(async () => { throw new Error(`attempt ${++calls}`); }, { firstDelayMs: 40, maxDelayMs: 40, giveUpAfterMs: 150 })).rejects.toThrow(`attempt`);
    expect(calls).toBeGreaterThanOrEqual(3);
    expect(calls).toBeLessThanOrEqual(5);
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});
