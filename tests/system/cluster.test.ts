import path from "node:path";
import { rmSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NatsConnection } from "@nats-io/transport-node";
import { call, decodeJson, ensureCredentials, jetStreamOf, passwordEnvironment, type Credentials } from "@gently/bus";
import { connect, type GentlyClient } from "@gently/client";
import { datastore, FrameDescriptor, hw, newUid, streams, subjects } from "@gently/protocol";
import { REPO_ROOT } from "@gently/supervisor";
import {
  connectAccount,
  SMALL_SAMPLE,
  spawnService,
  startTestCluster,
  tempStorage,
  waitFor,
  type ServiceProcess,
  type TestCluster,
} from "@gently/testing";

/**
 * Scale-out on NATS itself: a 3-node cluster (routes on loopback, JetStream
 * R3), services attached to different nodes as they would be on different
 * hosts, and one node killed in the middle of a timelapse.
 */
describe("NATS cluster (3 nodes, JetStream R3)", () => {
  const ringPath = `/dev/shm/gently-cluster-${newUid()}`;
  const storage = tempStorage("gently-cluster-");
  let creds: Credentials;
  let cluster: TestCluster;
  const services: ServiceProcess[] = [];
  let client: GentlyClient;
  let planRunner: NatsConnection;

  const connectAs = (user: keyof Credentials, url: string) => connectAccount(url, creds, user);

  beforeAll(async () => {
    creds = ensureCredentials(storage.dir);
    cluster = await startTestCluster(3, { configFile: path.join(REPO_ROOT, "nats.conf"), env: passwordEnvironment(creds) });
    const simConfig = path.join(storage.dir, "sim.json");
    writeFileSync(simConfig, JSON.stringify({ ...SMALL_SAMPLE, frame_interval_ms: 20 }));
    const [n1, n2, n3] = cluster.nodes;
    // microscope host: hardware + writer share shared memory and node 1; storage host: indexer on node 3; plan-runner on node 2
    const placement: [string, string][] = [
      ["hardware", n1!.url],
      ["writer", n1!.url],
      ["plan-runner", n2!.url],
      ["indexer", n3!.url],
    ];
    const common = {
      GENTLY_STORAGE: storage.dir,
      GENTLY_CONFIG: simConfig,
      GENTLY_RING_PATH: ringPath,
      GENTLY_RING_SLOTS: "8",
      GENTLY_JS_REPLICAS: "3",
    };
    for (const [name, url] of placement) {
      services.push(
        spawnService(name, { ...common, GENTLY_NATS_URL: url, GENTLY_NATS_USER: name, GENTLY_NATS_PASSWORD: creds[name as keyof Credentials] }),
      );
      // one at a time: the first creates the replicated streams
      await services.at(-1)!.waitForLog((l) => l.includes('"msg":"started"'), 60_000);
    }
    planRunner = await connectAs("plan-runner", n2!.url);
    for (const camera of ["HamCam1", "HamCam2"] as const) {
      await call(planRunner, hw.setCamera, { camera, roi: { x: 896, y: 960, width: 256, height: 128 } });
    }
    client = await connect({ url: n1!.url, user: "copilot", pass: creds.copilot, storage: storage.dir, timeoutMs: 20_000 });
  }, 180_000);

  afterAll(async () => {
    await client?.close();
    await planRunner?.close();
    for (const s of services) await s.stop();
    rmSync(ringPath, { force: true });
    await cluster?.stop();
    storage.remove();
  });

  it("replicates the system's streams on three nodes", async () => {
    const { jsm } = await jetStreamOf(planRunner);
    for (const name of [streams.data.name, streams.runs.name]) {
      const info = await jsm.streams.info(name);
      expect(info.config.num_replicas, name).toBe(3);
      expect((info.cluster?.replicas?.length ?? 0) + 1, name).toBe(3);
    }
  });

  it("completes a timelapse with every volume indexed while one NATS node is killed mid-run", async () => {
    const session_id = `cluster-${Date.now()}`;
    const run = await client.submit(
      "timelapse_volume",
      // one plan step per volume (interval_s 0 would be one continuous sequence)
      { num_timepoints: 4, interval_s: 0.08, num_slices: 40, exposure_ms: 2, piezo_amplitude_um: 10 },
      { session_id },
    );
    // kill node 3 (the indexer's) at frame 10 of the second volume
    const observer = await connectAs("writer", cluster.nodes[0]!.url);
    const acqs: string[] = [];
    await new Promise<void>((resolve) => {
      observer.subscribe(subjects.frames.frameAll, {
        callback: (_e, msg) => {
          const d = FrameDescriptor.parse(decodeJson(msg.data));
          if (!acqs.includes(d.acq_id)) acqs.push(d.acq_id);
          if (acqs.length === 2 && d.seq === 10) resolve();
        },
      });
    });
    await observer.close();
    await cluster.nodes[2]!.kill();

    const result = await run.done();
    expect(result.status, result.reason).toBe("success");
    expect(result.volume_uids).toHaveLength(4);

    const indexed = await waitFor(
      async () => {
        const reply = await call(planRunner, datastore.list, { session_id, limit: 100 }, { timeoutMs: 3_000 });
        const uids = reply.items.filter((i) => i.data_type === "volume").map((i) => i.uid);
        return uids.length === 4 ? uids : null;
      },
      60_000,
      "every volume indexed after the node loss",
    );
    expect([...indexed].sort()).toEqual([...result.volume_uids].sort());
    const state = await call(planRunner, hw.state, {}).catch((err) => {
      throw new Error(`${String(err)}; hardware's last log lines:\n${services[0]!.lines.slice(-8).join("\n")}`);
    });
    expect(state.laser).toBe("ALL OFF");
  }, 180_000);
});
