import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Svcm } from "@nats-io/services";
import type { NatsConnection } from "@nats-io/transport-node";
import { call, encodeJson } from "@gently/bus";
import { connectNats } from "@gently/client";
import { hw, microServiceName, subjects } from "@gently/protocol";
import { spawnService, startAccountNats, waitFor, type AccountNats, type ServiceProcess } from "@gently/testing";

/** Requests the hardware service has answered on one endpoint, from $SRV.STATS. */
async function hwRequests(nc: NatsConnection, endpointName: string): Promise<number> {
  const stats = await new Svcm(nc).client({ strategy: "timer", maxWait: 1_000 }).stats(microServiceName("hardware"));
  for await (const s of stats) return s.endpoints?.find((e) => e.name === endpointName)?.num_requests ?? 0;
  throw new Error("hardware did not answer $SRV.STATS");
}

/** Subscribes and reports whether the server refused the subscription. */
async function subscriptionRefused(nc: NatsConnection, subject: string): Promise<boolean> {
  const sub = nc.subscribe(subject);
  const outcome = await Promise.race([
    sub.closed.then((err) => (err instanceof Error ? /permission/i.test(err.message) : false)),
    new Promise<false>((r) => setTimeout(() => r(false), 2_000)),
  ]);
  if (!sub.isClosed()) sub.unsubscribe();
  return outcome;
}

describe("least-privilege NATS accounts (nats.conf)", () => {
  let accounts: AccountNats;
  let hardware: ServiceProcess;
  let copilot: NatsConnection;
  let planRunner: NatsConnection;

  beforeAll(async () => {
    accounts = await startAccountNats();
    const { creds } = accounts;
    hardware = spawnService("hardware", {
      ...accounts.serviceEnv("hardware"),
      GENTLY_RING_PATH: `/dev/shm/gently-test-perm-${process.pid}`,
      GENTLY_RING_SLOTS: "2",
    });
    await hardware.waitForLog((l) => l.includes("service registered"), 30_000);
    copilot = await connectNats({ url: accounts.nats.url, user: "copilot", pass: creds.copilot, reconnect: false });
    planRunner = await connectNats({ url: accounts.nats.url, user: "plan-runner", pass: creds["plan-runner"], reconnect: false });
  });

  afterAll(async () => {
    await copilot?.close();
    await planRunner?.close();
    await hardware?.stop();
    await accounts?.stop();
  });

  it("refuses an account without a password", async () => {
    await expect(connectNats({ url: accounts.nats.url, user: "copilot", pass: "wrong", reconnect: false })).rejects.toThrow(/auth/i);
  });

  it("lets the plan runner move the stage (the control case)", async () => {
    const state = await call(planRunner, hw.move, { axis: "xy", x_um: 1600, y_um: 10 });
    expect(state.position.x_um).toBeCloseTo(1600);
    expect(await hwRequests(planRunner, hw.move.name)).toBe(1);
  });

  it("refuses the copilot's publish to gently.hw.move at the server: the hardware service never sees it", async () => {
    const errors: string[] = [];
    void (async () => {
      for await (const s of copilot.status()) if (s.type === "error") errors.push(String(s.error));
    })();
    copilot.publish(subjects.hw.move, encodeJson({ axis: "xy", x_um: 2000, y_um: 0 }));
    const reply = await copilot
      .request(subjects.hw.move, encodeJson({ axis: "xy", x_um: 2000, y_um: 0 }), { timeout: 2_000 })
      .catch((err) => err as Error);
    expect(reply).toBeInstanceOf(Error);
    await waitFor(() => errors.some((e) => /permissions violation for publish to "gently\.hw\.move"/i.test(e)), 5_000, "permission error");
    expect(await hwRequests(planRunner, hw.move.name)).toBe(1);
    const state = await call(planRunner, hw.state, {});
    expect(state.position.x_um).toBeCloseTo(1600);
  });

  it("does not let the copilot subscribe to frames, to hardware requests or to another account's inbox", async () => {
    expect(await subscriptionRefused(copilot, subjects.frames.all)).toBe(true);
    expect(await subscriptionRefused(copilot, subjects.hw.all)).toBe(true);
    expect(await subscriptionRefused(copilot, "_INBOX.plan-runner.>")).toBe(true);
    expect(await subscriptionRefused(copilot, "_INBOX.>")).toBe(true);
    // …while what it is meant to read is allowed
    expect(await subscriptionRefused(copilot, subjects.volume.written)).toBe(false);
  });

  it("only the hardware account may publish frames", async () => {
    const errors: string[] = [];
    void (async () => {
      for await (const s of planRunner.status()) if (s.type === "error") errors.push(String(s.error));
    })();
    planRunner.publish(subjects.frames.frame("x"), encodeJson({}));
    await waitFor(() => errors.some((e) => /permissions violation for publish/i.test(e)), 5_000, "permission error");
  });
});
