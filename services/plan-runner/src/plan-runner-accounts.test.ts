import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type GentlyClient } from "@gently/client";
import { PLAN_NAMES } from "@gently/protocol";
import { startTestSystem, type TestSystem } from "@gently/testing";

describe("plans under the least-privilege accounts of nats.conf (supervisor, hardware, writer, plan-runner)", () => {
  let system: TestSystem;
  let copilot: GentlyClient;

  beforeAll(async () => {
    system = await startTestSystem({ services: ["hardware", "writer", "plan-runner"] });
    copilot = await connect({ url: system.nats.url, user: "copilot", pass: system.credentials.copilot, storage: system.storage, reconnect: false });
  });

  afterAll(async () => {
    await copilot?.close();
    await system?.stop();
  });

  it("lets the copilot submit, follow, replay and read back an acquisition, and refuse-before-motion still names every violation", async () => {
    const tools = await copilot.tools();
    expect(tools.map((t) => t.name).sort()).toEqual([...PLAN_NAMES].sort());
    const run = await copilot.submit("acquire_volume", { num_slices: 4, exposure_ms: 2, piezo_center_um: 0, piezo_amplitude_um: 3, galvo_amplitude_deg: 0.03 });
    const result = await run.done();
    expect(result.status, result.reason).toBe("success");
    const [volume] = result.volumes;
    expect(volume!.shape).toEqual([4, 512, 2048]);
    const replayed: string[] = [];
    for await (const d of copilot.run(run.run_uid).documents()) replayed.push(d.kind);
    expect(replayed[0]).toBe("start");
    expect(replayed.at(-1)).toBe("stop");
    expect((await copilot.loadVolume(volume!.uid)).data.length).toBe(4 * 512 * 2048);
    expect((await copilot.history()).map((h) => h.run_uid)).toContain(run.run_uid);
    const refused = await copilot.submit("move_stage", { x_um: 99_999, y_um: 0 }).catch((e) => e);
    expect(refused.code).toBe("limit_violation");
    expect(refused.details.violations).toHaveLength(1);
  });
});
