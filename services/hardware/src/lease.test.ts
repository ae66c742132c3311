import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NatsConnection } from "@nats-io/transport-node";
import { Kvm, type KV } from "@nats-io/kv";
import { call, connectBus, createLogger } from "@gently/bus";
import { buckets, hw, newUid } from "@gently/protocol";
import { unlinkRing } from "@gently/ring";
import { spawnService, startTestNats, tempStorage, waitFor, type ServiceProcess, type TestNats } from "@gently/testing";
import { describeHolder, holderOf, LEASE_TTL_MS, type LeaseHolder } from "./lease";
import { TestReader } from "../test/test-reader";

const logger = createLogger("hardware-lease-test", "silent");

describe("hardware lease (one owner of the microscope per NATS)", () => {
  let nats: TestNats;
  let nc: NatsConnection;
  let kv: KV;
  const storage = tempStorage("gently-hw-lease-");
  const processes: ServiceProcess[] = [];
  const env = () => ({
    GENTLY_NATS_URL: nats.url,
    GENTLY_STORAGE: storage.dir,
    GENTLY_RING_PATH: `/dev/shm/gently-test-lease-${nats.port}`,
    GENTLY_RING_SLOTS: "2",
  });
  const start = (): ServiceProcess => {
    const p = spawnService("hardware", env());
    processes.push(p);
    return p;
  };
  const holder = async (): Promise<LeaseHolder | null> => {
    const entry = await kv.get("hardware");
    return entry?.operation === "PUT" ? (JSON.parse(entry.string()) as LeaseHolder) : null;
  };

  beforeAll(async () => {
    nats = await startTestNats();
    nc = await connectBus({ servers: nats.url, name: "lease-test", logger });
  });

  afterAll(async () => {
    for (const p of processes) await p.stop();
    // A killed or ousted holder leaves its ring file behind (its successor would have replaced it).
    if (nats) unlinkRing(env().GENTLY_RING_PATH);
    await nc?.close();
    await nats?.stop();
    storage.remove();
  });

  let first: ServiceProcess;

  it("a second hardware service refuses to start, naming the holder, and exits non-zero without touching core or ring", async () => {
    first = start();
    await first.waitForLog((l) => l.includes('"msg":"started"'), 45_000);
    kv = await new Kvm(nc).open(buckets.leases);
    const held = await holder();
    expect(held?.pid).toBe(first.child.pid);

    const second = start();
    const { code } = await second.exited;
    expect(code).not.toBe(0);
    const refusal = second.lines.find((l) => l.includes("already held"));
    expect(refusal).toBeDefined();
    expect(refusal).toContain(`instance ${held!.instance} on host ${held!.host} (pid ${held!.pid}) since ${held!.since}`);
    expect(second.lines.some((l) => l.includes("microscope ready"))).toBe(false);
    // The first one is undisturbed.
    expect((await call(nc, hw.state, {})).owner.pid).toBe(first.child.pid);
  });

  it("when the holder is killed -9 its lease expires within the ttl and a new service takes over", async () => {
    const killedAt = Date.now();
    await first.kill();
    await waitFor(async () => (await holder()) === null, LEASE_TTL_MS + 5_000, "the dead holder's lease to expire");
    expect(Date.now() - killedAt).toBeLessThan(LEASE_TTL_MS + 5_000);

    const successor = start();
    await successor.waitForLog((l) => l.includes('"msg":"started"'), 45_000);
    const s = await call(nc, hw.state, {});
    expect(s.owner.pid).toBe(successor.child.pid);
    expect((await holder())?.instance).toBe(s.owner.instance);
    first = successor;
  });

  it("a service whose lease is taken stops its sequence with the lasers off and exits", async () => {
    const reader = new TestReader(nc, { holdSlots: true });
    await reader.start();
    const acq_id = newUid();
    await call(nc, hw.startSequence, {
      acq_id,
      volume_uid: newUid(),
      session_id: "lease-test",
      cameras: ["HamCam1"],
      num_slices: 10,
      exposure_ms: 10,
      laser_config: "488 only",
    });
    await waitFor(async () => (await call(nc, hw.state, {})).laser === "488 only", 5_000, "lasers on");

    const usurper: LeaseHolder = { instance: newUid(), host: "other-host", pid: 4242, since: new Date().toISOString() };
    await kv.put("hardware", JSON.stringify(usurper));

    const end = await reader.waitEnd(acq_id, 10_000);
    expect(end.status).toBe("aborted");
    expect(end.reason).toContain(`the hardware lease was taken by instance ${usurper.instance} on host other-host`);
    const { code } = await first.exited;
    expect(code).toBe(1);
    expect(first.lines.some((l) => l.includes("could not switch the lasers off"))).toBe(false);
    await reader.stop();
  });

  it("a lease value that names no holder is held by an unknown holder, named with its raw value", async () => {
    const garbage = '{"instance": 7, "note": "not a holder"}';
    expect(holderOf(garbage)).toEqual({ raw: garbage });
    expect(holderOf("not json {")).toEqual({ raw: "not json {" });
    expect(describeHolder(holderOf("not json {"))).toBe('an unknown holder (lease value "not json {")');

    await kv.put("hardware", "not json {");
    const refused = start();
    const { code } = await refused.exited;
    expect(code).not.toBe(0);
    const refusal = refused.lines.find((l) => l.includes("already held"));
    expect(refusal).toContain("an unknown holder (lease value");
    expect(refusal).toContain("not json {");
    expect(refused.lines.some((l) => l.includes("undefined"))).toBe(false);
    expect(refused.lines.some((l) => l.includes("microscope ready"))).toBe(false);
  });
});
