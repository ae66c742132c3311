import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type GentlyClient } from "@gently/client";
import { decodeJson } from "@gently/bus";
import { RunStopDoc, subjects } from "@gently/protocol";
import { startTestSystem, waitFor, type TestSystem } from "@gently/testing";

/**
 * Ctrl-C on `npm start` mid-run: the terminal signals every process of the
 * group at once. The hardware switches the lasers off itself; the plan
 * runner's teardown must be able to confirm it, so the run ends "abort"
 * without a false laser alarm.
 */
const SERVICES = ["hardware", "writer", "plan-runner", "indexer"];

describe("Ctrl-C on npm start in the middle of a volume", () => {
  let system: TestSystem;
  let client: GentlyClient;

  beforeAll(async () => {
    system = await startTestSystem({ services: SERVICES });
    client = await connect({ url: system.nats.url, user: "copilot", pass: system.credentials.copilot, storage: system.storage, timeoutMs: 20_000 });
  });

  afterAll(async () => {
    await client?.close();
    await system?.stop();
  });

  it("aborts the run, switches the lasers off and says so, with no 'could not switch the lasers off'", async () => {
    const run = await client.submit("acquire_volume", { num_slices: 2000, exposure_ms: 10, piezo_center_um: 0, piezo_amplitude_um: 10, galvo_amplitude_deg: 0.2 });
    let framesDone = 0;
    run.onProgress((p) => (framesDone = p.done));
    await waitFor(() => framesDone >= 20, 30_000, "20 frames");
    // the stop document as it is published (the plan runner that could replay it is stopping too)
    const stops: RunStopDoc[] = [];
    client.nc.subscribe(subjects.run.doc(run.run_uid, "stop"), { callback: (_e, m) => void stops.push(RunStopDoc.parse(decodeJson(m.data))) });
    await client.nc.flush();
    // what a terminal's Ctrl-C does: SIGINT to the supervisor and every service at the same moment
    for (const pid of [system.supervisor.child.pid!, ...SERVICES.map((s) => system.pidOf(s))]) process.kill(pid, "SIGINT");
    await system.supervisor.waitForLog((l) => l.includes('"msg":"system stopped"'), 30_000);
    await waitFor(() => stops.length > 0, 15_000, "the run's stop document");
    expect(stops[0]!.exit_status).toBe("abort");
    expect(stops[0]!.reason).toBe("the plan runner is stopping");
    const log = system.supervisor.lines;
    expect(log.filter((l) => l.includes("could not switch the lasers off"))).toEqual([]);
    expect(log.some((l) => l.includes('"service":"hardware"') && l.includes('"msg":"stopped"'))).toBe(true);
  });
});
