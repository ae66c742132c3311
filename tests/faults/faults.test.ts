import { afterAll, describe, expect, it } from "vitest";
import type { NatsConnection } from "@nats-io/transport-node";
import { decodeJson } from "@gently/bus";
import { FrameDescriptor, subjects } from "@gently/protocol";
import { SMALL_SAMPLE, waitFor } from "@gently/testing";
import { account, answers, printReport, startScenarioSystem, TIMELAPSE, type FaultReport, type ScenarioContext } from "./scenario";

const reports: FaultReport[] = [];
afterAll(() => printReport(reports));

/** Frames paced at 20 ms: a 40-slice volume takes about a second, so a fault lands mid-volume. */
const PACED = { sim: { ...SMALL_SAMPLE, frame_interval_ms: 20 } };

/** Resolves when the given frame of the given volume (1-based) is in shared memory. */
async function frameOfVolume(ctx: ScenarioContext, volume: number, frame: number): Promise<void> {
  const observer: NatsConnection = await ctx.system.connectAs("writer");
  const acqs: string[] = [];
  await new Promise<void>((resolve) => {
    observer.subscribe(subjects.frames.frameAll, {
      callback: (_err, msg) => {
        const d = FrameDescriptor.safeParse(decodeJson(msg.data));
        if (!d.success) return;
        if (!acqs.includes(d.data.acq_id)) acqs.push(d.data.acq_id);
        if (acqs.indexOf(d.data.acq_id) === volume - 1 && d.data.seq === frame) resolve();
      },
    });
  });
  await observer.close();
}

/**
 * Runs a timelapse on a fresh system; `fault` (if any) strikes at frame 10 of
 * the second volume and returns how to tell that the system recovered.
 */
async function scenario(name: string, env: NodeJS.ProcessEnv, fault?: (ctx: ScenarioContext) => Promise<() => Promise<boolean>>) {
  const ctx = await startScenarioSystem(env, PACED);
  try {
    const run = await ctx.client.submit("timelapse_volume", TIMELAPSE, { session_id: ctx.session_id });
    if (fault) await frameOfVolume(ctx, 2, 10);
    const faultAt = Date.now();
    const recovered = fault ? await fault(ctx) : async () => true;
    const report = await account(ctx, name, run.done(), faultAt, recovered);
    if (fault) {
      // Recovered means usable: the next acquisition runs as if nothing had happened.
      const next = await ctx.client.submit("timelapse_volume", { ...TIMELAPSE, num_timepoints: 1 }, { session_id: `${ctx.session_id}-next` });
      const result = await next.done();
      report.next_run = result.status === "success" ? "success" : `${result.status}: ${result.reason}`;
    }
    reports.push(report);
    return report;
  } finally {
    await ctx.client.close();
    await ctx.planRunner.close();
    await ctx.system.stop();
  }
}

function expectSafe(report: FaultReport): void {
  expect(report.lost, "no volume lost or half-registered").toBe(0);
  expect(report.lasers, "lasers off").toBe("ALL OFF");
  if (report.next_run !== undefined) expect(report.next_run, "the run after recovery").toBe("success");
  expect(["success", "fail", "abort"]).toContain(report.run_status);
  if (report.run_status !== "success") expect(report.run_reason, "a clear reason").toMatch(/\w{4,}/);
  expect(report.written, "the volume finished before the fault is kept").toBeGreaterThanOrEqual(1);
}

describe("fault injection (real nats-server, every service a real process under the supervisor)", () => {
  const killAndRestart = (service: string) => async (ctx: ScenarioContext) => {
    const pid = ctx.system.pidOf(service);
    process.kill(pid, "SIGKILL");
    return async () => ctx.system.pidOf(service) !== pid && (await answers(ctx.planRunner, service));
  };

  for (const service of ["hardware", "plan-runner", "writer"]) {
    it(`kill -9 ${service} mid-volume: nothing lost, lasers off, a clear end, the service restarts`, async () => {
      const report = await scenario(`kill -9 ${service}`, {}, killAndRestart(service));
      expectSafe(report);
      // the volume in flight cannot complete without this part
      expect(report.written).toBeLessThan(TIMELAPSE.num_timepoints);
    }, 240_000);
  }

  for (const service of ["indexer", "viz", "sam"]) {
    it(`kill -9 ${service} mid-volume: the run completes and the restarted service catches up`, async () => {
      const report = await scenario(`kill -9 ${service}`, {}, killAndRestart(service));
      expectSafe(report);
      expect(report.run_status).toBe("success");
      expect(report.written).toBe(TIMELAPSE.num_timepoints);
      expect(report.indexed).toBe(TIMELAPSE.num_timepoints);
    }, 240_000);
  }

  it("nats-server restarted mid-volume: every service reconnects, nothing lost", async () => {
    const report = await scenario("NATS restart", {}, async (ctx) => {
      await ctx.system.nats.restart();
      const services = ["hardware", "writer", "plan-runner", "indexer", "sam", "viz"];
      return async () => (await Promise.all(services.map((s) => answers(ctx.planRunner, s)))).every(Boolean);
    });
    expectSafe(report);
  }, 240_000);

  it("storage full (quota): a clear disk_full error and nothing registered for the volume that did not fit", async () => {
    // room for about one and a half volumes of 40 × 256 × 128 × 2 bytes
    const report = await scenario("storage full", { GENTLY_STORAGE_QUOTA_BYTES: String(4 * 1024 * 1024) });
    expectSafe(report);
    expect(report.run_status).toBe("fail");
    expect(report.run_reason).toMatch(/disk|quota|space/i);
    expect(report.indexed).toBe(report.written);
  }, 240_000);
});
