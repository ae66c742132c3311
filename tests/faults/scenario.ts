import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { Svcm } from "@nats-io/services";
import type { NatsConnection } from "@nats-io/transport-node";
import { call, decodeJson } from "@gently/bus";
import { connect, readStored, type GentlyClient, type RunResult } from "@gently/client";
import { datastore, hw, microServiceName, streams, subjects, VolumeFailed, VolumeWritten } from "@gently/protocol";
import { startTestSystem, waitFor, type TestSystem } from "@gently/testing";

/** One line of the fault report. */
export interface FaultReport {
  scenario: string;
  /** volumes the run asked for */
  expected: number;
  /** volume.written announcements */
  written: number;
  /** volume.failed announcements */
  failed: number;
  /** rows in the index after it caught up */
  indexed: number;
  /** announced-but-not-indexed + indexed-but-missing + files at a final path nobody announced; must be 0 */
  lost: number;
  run_status: string;
  run_reason: string;
  lasers: string;
  /** seconds from the fault until the affected part answered again */
  recovery_s: number;
  /** outcome of a one-volume run started after recovery (fault scenarios only) */
  next_run?: string;
}

/** Light-sheet cameras read a 256×128 ROI: small volumes keep each scenario quick. */
const ROI = { x: 896, y: 960, width: 256, height: 128 };
// one plan step per volume, as the scenarios count them (interval_s 0 would run one continuous sequence)
export const TIMELAPSE = { num_timepoints: 4, interval_s: 0.08, num_slices: 40, exposure_ms: 2, piezo_amplitude_um: 10 };

export interface ScenarioContext {
  system: TestSystem;
  client: GentlyClient;
  planRunner: NatsConnection;
  session_id: string;
}

export async function startScenarioSystem(
  env: NodeJS.ProcessEnv = {},
  opts: { sim?: object; embeddedNats?: { storage: string } } = {},
): Promise<ScenarioContext> {
  const system = await startTestSystem({
    sim: opts.sim,
    embeddedNats: opts.embeddedNats,
    env: {
      // fail fast when a part is gone, so every scenario ends in seconds
      GENTLY_WRITER_FRAME_TIMEOUT_MS: "4000",
      GENTLY_RING_TIMEOUT_MS: "4000",
      GENTLY_FRAME_TIMEOUT_MS: "4000",
      ...env,
    },
  });
  const planRunner = await system.connectAs("plan-runner");
  for (const camera of ["HamCam1", "HamCam2"] as const) await call(planRunner, hw.setCamera, { camera, roi: ROI });
  const client = await connect({
    url: system.nats.url,
    user: "copilot",
    pass: system.credentials.copilot,
    storage: system.storage,
    timeoutMs: 20_000,
  });
  return { system, client, planRunner, session_id: `faults-${Date.now()}` };
}

/** Answers $SRV.PING under the micro-services protocol. */
export async function answers(nc: NatsConnection, service: string): Promise<boolean> {
  const pings = await new Svcm(nc).client({ strategy: "timer", maxWait: 500 }).ping(microServiceName(service));
  for await (const _ of pings) return true;
  return false;
}

/** Waits for the run, then for the index to settle, and counts what happened to every volume. */
export async function account(
  ctx: ScenarioContext,
  scenario: string,
  run: Promise<RunResult>,
  faultAt: number,
  recovered: () => Promise<boolean>,
): Promise<FaultReport> {
  const result = await run;
  await waitFor(recovered, 90_000, `${scenario}: recovery`);
  const recovery_s = (Date.now() - faultAt) / 1000;

  // after a NATS restart JetStream may need a moment before it answers again
  const stored = await waitFor(() => readStored(ctx.planRunner, streams.data.name, subjects.volume.all), 30_000, "GENTLY_DATA readable");
  const written = stored
    .filter((m) => m.subject === subjects.volume.written)
    .map((m) => VolumeWritten.parse(decodeJson(m.data)))
    .filter((v) => v.session_id === ctx.session_id);
  const failed = stored
    .filter((m) => m.subject === subjects.volume.failed)
    .map((m) => VolumeFailed.parse(decodeJson(m.data)))
    .filter((v) => v.session_id === undefined || v.session_id === ctx.session_id);

  // the indexer acks only after commit: give it time to catch up after restarts
  const rows = await waitFor(
    async () => {
      const reply = await call(ctx.planRunner, datastore.list, { session_id: ctx.session_id, limit: 1000 }, { timeoutMs: 3_000 });
      const volumes = reply.items.filter((i) => i.data_type === "volume");
      return volumes.length >= written.length ? volumes : null;
    },
    60_000,
    `${scenario}: indexer to catch up`,
  ).catch(async () => (await call(ctx.planRunner, datastore.list, { session_id: ctx.session_id, limit: 1000 })).items);

  const indexed = new Set<string>(rows.map((r) => r.uid));
  const announced = new Set<string>(written.map((w) => w.uid));
  const volumesDir = path.join(ctx.system.storage, "volumes");
  const finalFiles = existsSync(volumesDir) ? readdirSync(volumesDir).filter((f) => /^[0-9A-Za-z]{21}\.tif$/.test(f)) : [];
  const lost =
    written.filter((w) => !indexed.has(w.uid) || !existsSync(w.path)).length +
    rows.filter((r) => !announced.has(r.uid)).length +
    finalFiles.filter((f) => !announced.has(f.slice(0, 21))).length +
    failed.filter((f) => indexed.has(f.uid) || finalFiles.includes(`${f.uid}.tif`)).length;

  const lasers = (await waitFor(() => call(ctx.planRunner, hw.state, {}, { timeoutMs: 3_000 }), 60_000, "hardware state")).laser;
  return {
    scenario,
    expected: TIMELAPSE.num_timepoints,
    written: written.length,
    failed: failed.length,
    indexed: rows.length,
    lost,
    run_status: result.status,
    run_reason: result.reason,
    lasers,
    recovery_s: Math.round(recovery_s * 10) / 10,
  };
}

export function printReport(reports: FaultReport[]): void {
  const head = ["scenario", "expected", "written", "failed", "indexed", "lost", "run", "lasers", "recovery_s", "next run", "run's reason"];
  const rows = reports.map((r) =>
    [r.scenario, r.expected, r.written, r.failed, r.indexed, r.lost, r.run_status, r.lasers, r.recovery_s, r.next_run ?? "-", brief(r.run_reason)].map(String),
  );
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ");
  console.log(["", "fault injection report", line(head), ...rows.map(line), ""].join("\n"));
}

/** A run's reason, short enough for a table row. */
function brief(reason: string): string {
  const line = reason.replace(/\s+/g, " ");
  return line.length > 90 ? `${line.slice(0, 87)}...` : line;
}
