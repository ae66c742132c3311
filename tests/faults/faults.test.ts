import { afterAll, describe, expect, it } from "vitest";
import type { NatsConnection } from "@nats-io/transport-node";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { decodeJson, jetStreamOf } from "@gently/bus";
import { FrameDescriptor, SERVICE_NAMES, streams, subjects } from "@gently/protocol";
import { injectFaultEnv, SMALL_SAMPLE, tempStorage, waitFor } from "@gently/testing";
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
async function scenario(
  name: string,
  env: NodeJS.ProcessEnv,
  fault?: (ctx: ScenarioContext) => Promise<() => Promise<boolean>>,
  opts: {
    embeddedNats?: { storage: string };
    /** after the system started, before the run */
    prepare?: (ctx: ScenarioContext) => Promise<void> | void;
    /** after the run was accounted for, before the next run (e.g. free the space) */
    beforeNext?: (ctx: ScenarioContext) => Promise<void> | void;
    /** last checks on the system before it stops */
    inspect?: (ctx: ScenarioContext) => void;
  } = {},
) {
  const ctx = await startScenarioSystem(env, { ...PACED, embeddedNats: opts.embeddedNats });
  try {
    await opts.prepare?.(ctx);
    const run = await ctx.client.submit("timelapse_volume", TIMELAPSE, { session_id: ctx.session_id });
    if (fault) await frameOfVolume(ctx, 2, 10);
    const faultAt = Date.now();
    const recovered = fault ? await fault(ctx) : async () => true;
    const report = await account(ctx, name, run.done(), faultAt, recovered);
    if (fault || opts.beforeNext) {
      await opts.beforeNext?.(ctx);
      // Recovered means usable: the next acquisition runs as if nothing had happened.
      const next = await ctx.client.submit("timelapse_volume", { ...TIMELAPSE, num_timepoints: 1 }, { session_id: `${ctx.session_id}-next` });
      const result = await next.done();
      report.next_run = result.status === "success" ? "success" : `${result.status}: ${result.reason}`;
    }
    opts.inspect?.(ctx);
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

  const everyServiceAnswers = (ctx: ScenarioContext) => async () =>
    (await Promise.all(SERVICE_NAMES.map((s) => answers(ctx.planRunner, s)))).every(Boolean);
  /** How many times the supervisor restarted a service (a restart is what a fault must not need). */
  const restartsOf = (ctx: ScenarioContext, service: string) =>
    ctx.system.supervisor.lines.filter((l) => l.includes('"child started"') && l.includes(`"child":"${service}"`)).length - 1;

  it("nats-server killed (-9) under the supervisor: it is restarted on the same store, the services carry on, a cut run says it lost the bus", async () => {
    const storage = tempStorage("gently-faults-nats-kill-");
    try {
      const report = await scenario(
        "nats-server kill -9",
        {},
        async (ctx) => {
          await ctx.system.nats.kill();
          return async () =>
            ctx.system.supervisor.lines.some((l) => l.includes('"embedded nats-server restarted"')) && (await everyServiceAnswers(ctx)());
        },
        {
          embeddedNats: { storage: storage.dir },
          inspect: (ctx) => {
            // the services reconnected: none had to be restarted
            for (const service of SERVICE_NAMES) expect(restartsOf(ctx, service), `${service} restarts`).toBe(0);
          },
        },
      );
      expectSafe(report);
      if (report.run_status !== "success") expect(report.run_reason).toMatch(/lost the bus for \d+(\.\d)? s/);
    } finally {
      storage.remove();
    }
  }, 240_000);

  it("uncaught exception in the hardware mid-volume: sequence stopped and lasers off in the core before the exit, restarted", async () => {
    let hardwarePid = 0;
    const report = await scenario(
      "exception in hardware",
      injectFaultEnv("hardware", "exception"),
      async (ctx) => {
        hardwarePid = ctx.system.pidOf("hardware");
        process.kill(hardwarePid, "SIGUSR2");
        return async () => ctx.system.pidOf("hardware") !== hardwarePid && (await answers(ctx.planRunner, "hardware"));
      },
      {
        inspect: (ctx) => {
          const died = ctx.system.supervisor.lines.filter((l) => l.includes(`"pid":${hardwarePid}`));
          const readBack = died.find((l) => l.includes("emergency stop done: the core reports the lasers off"));
          expect(readBack, "the dying hardware read the lasers off from its core").toBeDefined();
          expect(JSON.parse(readBack!).laser).toBe("ALL OFF");
        },
      },
    );
    expectSafe(report);
    expect(report.written).toBeLessThan(TIMELAPSE.num_timepoints);
  }, 240_000);

  it("the indexer's durable consumer deleted mid-run: the indexer notices, gets it back and indexes every volume", async () => {
    const report = await scenario("indexer consumer deleted", {}, async (ctx) => {
      const admin = await ctx.system.connectAs("indexer");
      const { jsm } = await jetStreamOf(admin);
      await jsm.consumers.delete(streams.data.name, "indexer");
      return async () => {
        const back = await jsm.consumers.info(streams.data.name, "indexer").then(() => true, () => false);
        return back && (await answers(ctx.planRunner, "indexer"));
      };
    });
    expectSafe(report);
    expect(report.run_status).toBe("success");
    expect(report.indexed).toBe(TIMELAPSE.num_timepoints);
  }, 240_000);

  it("a really full disk (storage and JetStream on one small filesystem): the volumes stop at the reserve with disk_full, JetStream keeps answering, freeing space recovers without a restart", async () => {
    const mountPoint = mkdtempSync(path.join(os.tmpdir(), "gently-faults-disk-"));
    if (!tryMount(mountPoint, "64m")) {
      // no small filesystem here (not root, or no mount in this sandbox): the quota path stands in, and the table says so
      rmSync(mountPoint, { recursive: true, force: true });
      const report = await scenario("full disk (quota path: cannot mount here)", { GENTLY_STORAGE_QUOTA_BYTES: String(4 * 1024 * 1024) });
      expectSafe(report);
      return;
    }
    const storage = path.join(mountPoint, "storage");
    mkdirSync(storage);
    const ballast = path.join(mountPoint, "ballast");
    const reserve = 16 * 1024 * 1024;
    const volumeBytes = TIMELAPSE.num_slices * 256 * 128 * 2;
    try {
      const report = await scenario("full disk (64 MB tmpfs)", { GENTLY_WRITER_RESERVE_BYTES: String(reserve) }, undefined, {
        embeddedNats: { storage },
        // the disk is nearly full already: room for the reserve and one and a half volumes
        prepare: () => {
          const { bavail, bsize } = statfsSync(mountPoint);
          execFileSync("fallocate", ["-l", String(bavail * bsize - reserve - Math.round(1.5 * volumeBytes)), ballast]);
        },
        // the operator frees space; nothing is restarted
        beforeNext: () => rmSync(ballast),
        inspect: (ctx) => {
          for (const service of SERVICE_NAMES) expect(restartsOf(ctx, service), `${service} restarts`).toBe(0);
          expect(ctx.system.supervisor.lines.some((l) => l.includes("nats-server exited")), "nats-server kept running").toBe(false);
        },
      });
      expectSafe(report);
      expect(report.run_status).toBe("fail");
      expect(report.run_reason).toMatch(/disk_full|kept free|free on the filesystem/);
      expect(report.written).toBe(1);
    } finally {
      execFileSync("umount", ["-l", mountPoint]);
      rmSync(mountPoint, { recursive: true, force: true });
    }
  }, 300_000);

  it("the disk filled to the last byte by another program mid-volume, freed 5 s later: JetStream is back (the supervisor restarts it when it hung), nothing lost, the next run succeeds", async () => {
    const mountPoint = mkdtempSync(path.join(os.tmpdir(), "gently-faults-fill-"));
    if (!tryMount(mountPoint, "64m")) {
      rmSync(mountPoint, { recursive: true, force: true });
      console.log("skipped: no small filesystem can be mounted here");
      return;
    }
    const storage = path.join(mountPoint, "storage");
    mkdirSync(storage);
    const filler = path.join(mountPoint, "filler");
    try {
      const report = await scenario(
        "disk filled by another program",
        { GENTLY_WRITER_RESERVE_BYTES: String(8 * 1024 * 1024) },
        async (ctx) => {
          fillUp(filler);
          await new Promise((r) => setTimeout(r, 5_000));
          rmSync(filler, { recursive: true, force: true });
          // whether JetStream hung depends on whether it wrote while the disk was full; either way it must answer again
          return everyServiceAnswers(ctx);
        },
        {
          embeddedNats: { storage },
          inspect: (ctx) => {
            const hung = ctx.system.supervisor.lines.some((l) => l.includes("JetStream has stopped answering"));
            const restarted = ctx.system.supervisor.lines.some((l) => l.includes('"embedded nats-server restarted"'));
            if (hung) expect(restarted, "a hung JetStream is restarted by the supervisor").toBe(true);
            console.log(`disk filled by another program: JetStream ${hung ? "hung and was restarted by the supervisor" : "kept answering"}`);
          },
        },
      );
      expectSafe(report);
    } finally {
      execFileSync("umount", ["-l", mountPoint]);
      rmSync(mountPoint, { recursive: true, force: true });
    }
  }, 300_000);

  it("storage full (quota): a clear disk_full error and nothing registered for the volume that did not fit", async () => {
    // room for about one and a half volumes of 40 × 256 × 128 × 2 bytes
    const report = await scenario("storage full", { GENTLY_STORAGE_QUOTA_BYTES: String(4 * 1024 * 1024) });
    expectSafe(report);
    expect(report.run_status).toBe("fail");
    expect(report.run_reason).toMatch(/disk|quota|space/i);
    expect(report.indexed).toBe(report.written);
  }, 240_000);
});

/** Mounts a tmpfs of `size` at `dir`; false where this machine does not let the tests mount one. */
function tryMount(dir: string, size: string): boolean {
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Fills the filesystem of `dir` (created) to its last byte, as another program writing there would. */
function fillUp(dir: string): void {
  mkdirSync(dir);
  const { bavail, bsize } = statfsSync(dir);
  try {
    execFileSync("fallocate", ["-l", String(bavail * bsize), path.join(dir, "big")], { stdio: "ignore" });
  } catch {
    // a little short of room for its own metadata: the small files below take the rest
  }
  const chunk = Buffer.alloc(4096, 1);
  try {
    for (let i = 0; i < 100_000; i++) writeFileSync(path.join(dir, `small-${i}`), chunk);
  } catch {
    // ENOSPC: full
  }
}
