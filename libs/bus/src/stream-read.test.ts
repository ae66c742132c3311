import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { startTestNats, type TestNats } from "@gently/testing";
import { connectBus } from "./connection";
import { createLogger } from "./logger";
import { readBySubject, readStored } from "./stream-read";

describe("reading what a stream holds under a subject", () => {
  let nats: TestNats;
  let nc: NatsConnection;

  beforeAll(async () => {
    nats = await startTestNats();
    nc = await connectBus({ servers: nats.url, name: "stream-read", logger: createLogger("stream-read", "silent") });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "READS", subjects: ["reads.>"] });
    const js = jetstream(nc);
    // two runs' documents interleaved, as concurrent runs store them
    for (let i = 0; i < 30; i++) {
      await js.publish(`reads.a.doc.${i % 3 === 0 ? "start" : "event"}`, new TextEncoder().encode(`a${i}`));
      await js.publish(`reads.b.doc.event`, new TextEncoder().encode(`b${i}`));
    }
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  const text = (m: { data: Uint8Array }) => new TextDecoder().decode(m.data);

  it("pages through one subject's messages in order, with no consumer left on the server", async () => {
    const first = await readBySubject(nc, "READS", "reads.a.doc.*", { limit: 10 });
    expect(first.map(text)).toEqual(Array.from({ length: 10 }, (_, i) => `a${i}`));
    const rest = await readBySubject(nc, "READS", "reads.a.doc.*", { afterSeq: first.at(-1)!.seq, limit: 100 });
    expect(rest.map(text)).toEqual(Array.from({ length: 20 }, (_, i) => `a${i + 10}`));
    expect(await readBySubject(nc, "READS", "reads.a.doc.*", { afterSeq: rest.at(-1)!.seq, limit: 10 })).toEqual([]);
    expect(await readBySubject(nc, "READS", "reads.none.>", { limit: 10 })).toEqual([]);
    const jsm = await jetstreamManager(nc);
    expect((await jsm.streams.info("READS")).state.consumer_count).toBe(0);
  });

  it("reads the same messages as the consumer-based read", async () => {
    const viaConsumer = await readStored(nc, "READS", "reads.b.doc.*");
    const viaGet = await readBySubject(nc, "READS", "reads.b.doc.*", { limit: 1000 });
    expect(viaGet.map((m) => [m.seq, m.subject, text(m)])).toEqual(viaConsumer.map((m) => [m.seq, m.subject, text(m)]));
  });
});
