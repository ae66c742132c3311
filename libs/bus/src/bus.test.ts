import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { Svcm } from "@nats-io/services";
import type { NatsConnection } from "@nats-io/transport-node";
import { endpoint, GentlyError } from "@gently/protocol";
import { startTestNats, waitFor, type TestNats } from "@gently/testing";
import {
  call,
  connectBus,
  consumeDurable,
  createLogger,
  decodeJson,
  encodeJson,
  ensureStream,
  handle,
  instanceAnswers,
  jetStreamOf,
  publishDurable,
  startMicroService,
  subscribeValidated,
} from "./index";

// A contract local to this test: the bus is generic over contracts.
const scale = endpoint(
  "scale",
  "test.bus.scale",
  z.object({ value: z.number().finite(), factor: z.number().int().min(1).max(10) }),
  z.object({ result: z.number() }),
  "multiplies value by factor",
);

const logger = createLogger("bus-test", "silent");

describe("bus", () => {
  let nats: TestNats;
  let service: NatsConnection;
  let client: NatsConnection;

  beforeAll(async () => {
    nats = await startTestNats();
    service = await connectBus({ servers: nats.url, name: "svc", logger });
    client = await connectBus({ servers: nats.url, name: "client", logger });
    await startMicroService(service, {
      name: "bus-test",
      version: "1.2.3",
      description: "test service",
      logger,
      handlers: [
        handle(scale, ({ value, factor }) => {
          if (value === 13) throw new Error("unlucky");
          return { result: value * factor };
        }),
      ],
    });
  });

  afterAll(async () => {
    await client?.close();
    await service?.close();
    await nats?.stop();
  });

  it("answers a bad body with a structured error naming the field and keeps serving", async () => {
    const reply = await client.request(scale.subject, encodeJson({ value: 2, factor: 50 }));
    const body = decodeJson(reply.data) as { error: { code: string; field: string; message: string } };
    expect(body.error.code).toBe("invalid_request");
    expect(body.error.field).toBe("factor");
    expect(body.error.message).toMatch(/factor.*10/);
    expect(reply.headers?.get("Nats-Service-Error-Code")).toBe("400");

    const garbage = await client.request(scale.subject, new TextEncoder().encode("{not json"));
    expect((decodeJson(garbage.data) as { error: { code: string } }).error.code).toBe("invalid_request");

    await expect(call(client, scale, { value: 2, factor: 3 })).resolves.toEqual({ result: 6 });
  });

  it("answers a body whose error message quotes line breaks (a JSON syntax error does): one-line header, exact message in the body", async () => {
    const reply = await client.request(scale.subject, new TextEncoder().encode("\u0003\n{oops\r\n"), { timeout: 2_000 });
    expect(reply.headers?.get("Nats-Service-Error-Code")).toBe("400");
    expect(reply.headers?.get("Nats-Service-Error")).not.toMatch(/[\r\n]/);
    const body = decodeJson(reply.data) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("invalid_request");
    expect(body.error.message).toMatch(/not valid JSON/);
    await expect(call(client, scale, { value: 2, factor: 3 })).resolves.toEqual({ result: 6 });
  });

  it("turns an unexpected handler failure into an internal error, counted in $SRV.STATS", async () => {
    const err = await call(client, scale, { value: 13, factor: 1 }).catch((e) => e);
    expect(err).toBeInstanceOf(GentlyError);
    expect(err.code).toBe("internal");
    const stats = await new Svcm(client).client().stats("gently-bus-test");
    for await (const s of stats) {
      expect(s.version).toBe("1.2.3");
      const ep = s.endpoints?.find((e) => e.name === "scale");
      expect(ep?.num_errors).toBeGreaterThanOrEqual(2);
    }
    await expect(call(client, scale, { value: 1, factor: 2 })).resolves.toEqual({ result: 2 });
  });

  it("tells whether one instance of a service still runs, by its id; the handler sees its own", async () => {
    const echo = endpoint("whoami", "test.bus.whoami", z.object({}), z.object({ id: z.string() }), "the instance's id");
    const other = await connectBus({ servers: nats.url, name: "svc-2", logger });
    const svc = await startMicroService(other, { name: "bus-test-2", version: "1.0.0", description: "x", logger, handlers: [handle(echo, (_req, ctx) => ({ id: ctx.serviceId }))] });
    const id = svc.info().id;
    expect(await call(client, echo, {})).toEqual({ id });
    expect(await instanceAnswers(client, "bus-test-2", id)).toBe(true);
    expect(await instanceAnswers(client, "bus-test-2", "NOSUCHINSTANCE")).toBe(false);
    await svc.stop();
    expect(await instanceAnswers(client, "bus-test-2", id)).toBe(false);
    await other.close();
  });

  it("refuses a bad body on the client side before sending", async () => {
    const err = await call(client, scale, { value: Number.NaN, factor: 1 }).catch((e) => e);
    expect(err).toBeInstanceOf(GentlyError);
    expect(err.field).toBe("value");
  });

  it("survives nats-server being killed and restarted: endpoints, subscriptions and durable consumers resume", async () => {
    const { jsm, js } = await jetStreamOf(service);
    await ensureStream(jsm, { name: "TEST_EVENTS", subjects: ["test.events.>"] });
    await ensureStream(jsm, { name: "TEST_EVENTS", subjects: ["test.events.>"] }); // idempotent
    const consumed: number[] = [];
    const consumer = await consumeDurable(service, {
      stream: "TEST_EVENTS",
      durable: "bus-test",
      schema: z.object({ n: z.number() }),
      logger,
      handler: async ({ n }) => {
        consumed.push(n);
      },
    });
    const seen: number[] = [];
    subscribeValidated(service, "test.plain", z.object({ n: z.number() }), ({ n }) => void seen.push(n), { logger });

    await publishDurable(js, "test.events.a", z.object({ n: z.number() }), { n: 1 }, "m1");
    await waitFor(() => consumed.includes(1), 10_000, "first event");

    await nats.restart();

    await waitFor(async () => (await call(client, scale, { value: 5, factor: 2 })).result === 10, 30_000, "endpoint after restart");
    const clientJs = (await jetStreamOf(client)).js;
    await waitFor(async () => (await publishDurable(clientJs, "test.events.a", z.object({ n: z.number() }), { n: 2 }, "m2")).seq > 0, 20_000, "publish after restart");
    const dup = await publishDurable(clientJs, "test.events.a", z.object({ n: z.number() }), { n: 2 }, "m2");
    expect(dup.duplicate).toBe(true);
    await waitFor(() => consumed.includes(2), 30_000, "durable consumer after restart");
    client.publish("test.plain", encodeJson({ n: 7 }));
    await waitFor(() => seen.includes(7), 10_000, "subscription after restart");
    expect(consumed.filter((n) => n === 2)).toHaveLength(1);
    await consumer.stop();
  });
});
