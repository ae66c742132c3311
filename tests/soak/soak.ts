import { existsSync, readdirSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { NatsConnection } from "@nats-io/transport-node";
import { call, decodeJson, jetStreamOf } from "@gently/bus";
import { connect, readStored, type GentlyClient } from "@gently/client";
import { datastore, hw, SERVICE_NAMES, streams, subjects, VolumeFailed, VolumeWritten } from "@gently/protocol";
import { startTestSystem, tempStorage, waitFor, type TestSystem } from "@gently/testing";

/**
 * A night of imaging in minutes: the whole system under the supervisor (its
 * embedded nats-server included) on the simulator, several embryos imaged in
 * turn on an interval (volumes at the cameras' real exposure and readout
 * timing, a brightfield snap and an embryo detection on some timepoints), the
 * viewer's event stream open, and at random times a service killed -9 or the
 * nats-server killed -9 (the supervisor restarts both). Every few minutes it
 * prints each process's RSS and open file descriptors, the JetStream
 * consumers, and the volumes written / failed / indexed; at the end the
 * memory slope of each process after warm-up, and a verdict.
 *
 *   npm run soak -- --minutes 480
 *
 * Passes when no volume is lost, the lasers were never found on outside an
 * acquisition, every service answers at the end, and (for runs of an hour or
 * more) no process's memory grew beyond noise after warm-up.
 */

const { values } = parseArgs({
  options: {
    minutes: { type: "string" },
    "interval-s": { type: "string", default: "30" },
    "report-every-s": { type: "string", default: "300" },
    slices: { type: "string", default: "50" },
    "exposure-ms": { type: "string", default: "10" },
    seed: { type: "string" },
    json: { type: "boolean", default: false },
  },
});

function positive(name: string, raw: string | undefined, max: number): number {
  const value = Number(raw);
  if (raw === undefined || !Number.isFinite(value) || value <= 0 || value > max) {
    process.stderr.write(`--${name} must be a number > 0 and ≤ ${max}, got '${raw ?? ""}'\n`);
    process.exit(2);
  }
  return value;
}

const MINUTES = positive("minutes", values.minutes, 7 * 24 * 60);
const INTERVAL_MS = positive("interval-s", values["interval-s"], 3600) * 1000;
const REPORT_EVERY_MS = positive("report-every-s", values["report-every-s"], 3600) * 1000;
const SLICES = Math.round(positive("slices", values.slices, 2000));
const EXPOSURE_MS = positive("exposure-ms", values["exposure-ms"], 1000);
const SEED = values.seed !== undefined ? Math.round(positive("seed", values.seed, 2 ** 31)) : Math.floor(Math.random() * 2 ** 31);

/** Embryos imaged in turn, each its own session. */
const EMBRYOS = [
  { x_um: 1200, y_um: 0 },
  { x_um: 1500, y_um: 0 },
  { x_um: 1800, y_um: 0 },
];
/** Every third timepoint of an embryo also gets a brightfield snap and a detection. */
const DETECT_EVERY = 3;
const ROI = { x: 896, y: 960, width: 256, height: 128 };
/** Memory of the first part of the run is start-up, not growth. */
const WARM_UP_SHARE = 0.2;
/** Growth over the measured window below this (or 5 % of the mean) is noise. */
const FLAT_MB = 10;

/** Deterministic randomness (mulberry32), so a seed replays the same fault times. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Sample {
  t_s: number;
  rss_mb: number;
  fds: number;
}

/** The process table: supervisor, nats-server and every service, each by its current pid. */
function processes(system: TestSystem): Map<string, number> {
  const pids = new Map<string, number>([["supervisor", system.supervisor.child.pid!]]);
  for (const line of system.supervisor.lines) {
    if (line.includes('"child started"')) {
      const { child, pid } = JSON.parse(line) as { child: string; pid: number };
      pids.set(child, pid);
    } else if (/"embedded nats-server (started|restarted)"/.test(line)) {
      pids.set("nats-server", (JSON.parse(line) as { pid: number }).pid);
    }
  }
  return pids;
}

function measure(pid: number): { rss_mb: number; fds: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? "0");
    return { rss_mb: rssKb / 1024, fds: readdirSync(`/proc/${pid}/fd`).length };
  } catch {
    return null; // gone (killed, restarting)
  }
}

/** Least-squares slope of RSS over time, MB per hour. */
function slopeMbPerHour(samples: Sample[]): number {
  const n = samples.length;
  if (n < 3) return 0;
  const mt = samples.reduce((s, x) => s + x.t_s, 0) / n;
  const mr = samples.reduce((s, x) => s + x.rss_mb, 0) / n;
  let num = 0;
  let den = 0;
  for (const x of samples) {
    num += (x.t_s - mt) * (x.rss_mb - mr);
    den += (x.t_s - mt) ** 2;
  }
  return den === 0 ? 0 : (num / den) * 3600;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ")).join("\n");
}

const log = (text: string) => process.stdout.write(`${text}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class Soak {
  private readonly started = Date.now();
  private readonly end = this.started + MINUTES * 60_000;
  /** per process name and pid: its samples (a restarted process starts a new series) */
  private readonly memory = new Map<string, { pid: number; samples: Sample[] }>();
  private readonly runs = { success: 0, fail: 0, abort: 0, submit_errors: 0 };
  private readonly failures: string[] = [];
  private readonly faults: string[] = [];
  private lasersLeftOn: string[] = [];
  private sseEvents = 0;
  private sseReconnects = 0;
  private stopping = false;

  constructor(
    private readonly system: TestSystem,
    private readonly client: GentlyClient,
    private readonly observer: NatsConnection,
    /** the indexer's account: the only one that may read its consumer */
    private readonly indexer: NatsConnection,
  ) {}

  private elapsed_s(): number {
    return (Date.now() - this.started) / 1000;
  }

  async run(): Promise<boolean> {
    log(`soak: ${MINUTES} min, a timepoint every ${INTERVAL_MS / 1000} s for ${EMBRYOS.length} embryos, ${SLICES} slices at ${EXPOSURE_MS} ms, seed ${SEED}`);
    const background = [this.imaging(), this.viewer(), this.laserWatch(), this.faultsAtRandom(), this.reports()];
    while (Date.now() < this.end) await sleep(1_000);
    this.stopping = true;
    await Promise.allSettled(background);
    return this.verdict();
  }

  /** Embryos in turn: move, volume; every few timepoints a snap and a detection. */
  private async imaging(): Promise<void> {
    for (let timepoint = 0; !this.stopping; timepoint++) {
      const due = Date.now() + INTERVAL_MS;
      for (const [i, embryo] of EMBRYOS.entries()) {
        if (this.stopping) return;
        const session_id = `soak-embryo-${i + 1}`;
        await this.plan("move_stage", embryo, session_id);
        await this.plan("acquire_volume", { num_slices: SLICES, exposure_ms: EXPOSURE_MS, piezo_amplitude_um: 10, cameras: ["HamCam1", "HamCam2"] }, session_id);
        if (timepoint % DETECT_EVERY === 0) {
          const snap = await this.plan("snap_bottom", {}, session_id);
          const image_uid = snap?.volumes[0]?.uid;
          if (image_uid) await this.plan("detect_embryos", { image_uid }, session_id);
        }
      }
      while (!this.stopping && Date.now() < due) await sleep(200);
    }
  }

  /** Submits a plan and waits for its end; a submission refused while a part restarts is retried. */
  private async plan(name: string, params: object, session_id: string) {
    for (let attempt = 0; attempt < 30 && !this.stopping; attempt++) {
      try {
        const run = await this.client.submit(name, params, { session_id });
        const result = await run.done();
        this.runs[result.status as "success" | "fail" | "abort"] += 1;
        if (result.status !== "success") this.failures.push(`${this.elapsed_s().toFixed(0)} s ${name}: ${result.status}: ${result.reason}`);
        return result;
      } catch (err) {
        this.runs.submit_errors += 1;
        await sleep(1_000);
        if (attempt === 29) this.failures.push(`${this.elapsed_s().toFixed(0)} s ${name}: not submitted: ${String((err as Error)?.message ?? err)}`);
      }
    }
    return null;
  }

  /** The viewer's Server-Sent Events, kept open as a browser does (reconnecting with Last-Event-ID). */
  private async viewer(): Promise<void> {
    let lastId: string | undefined;
    while (!this.stopping) {
      const abort = new AbortController();
      const stop = setInterval(() => this.stopping && abort.abort(), 500);
      try {
        const res = await fetch(`http://127.0.0.1:${this.system.httpPort}/api/events`, {
          headers: lastId ? { "Last-Event-ID": lastId } : {},
          signal: abort.signal,
        });
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        const decoder = new TextDecoder();
        let buffered = "";
        for await (const chunk of res.body) {
          buffered += decoder.decode(chunk as Uint8Array, { stream: true });
          let cut;
          while ((cut = buffered.indexOf("\n\n")) >= 0) {
            const event = buffered.slice(0, cut);
            buffered = buffered.slice(cut + 2);
            const id = /^id: (.*)$/m.exec(event)?.[1];
            if (id) lastId = id;
            if (/^event: /m.test(event)) this.sseEvents += 1;
          }
        }
      } catch {
        // the viz server restarting, or the soak ending
      } finally {
        clearInterval(stop);
      }
      if (!this.stopping) {
        this.sseReconnects += 1;
        await sleep(1_000);
      }
    }
  }

  /** Lasers on with no acquisition running, twice a second apart, is a laser left on. */
  private async laserWatch(): Promise<void> {
    const offOrAcquiring = async () => {
      const state = await call(this.observer, hw.state, {}, { timeoutMs: 2_000 });
      return state.laser === "ALL OFF" || state.acquisition !== null ? null : state.laser;
    };
    while (!this.stopping) {
      await sleep(2_000);
      try {
        if ((await offOrAcquiring()) === null) continue;
        await sleep(1_000);
        const laser = await offOrAcquiring();
        if (laser !== null) this.lasersLeftOn.push(`${this.elapsed_s().toFixed(0)} s: ${laser} with no acquisition`);
      } catch {
        // the hardware or NATS restarting: nothing to read
      }
    }
  }

  /** A service killed -9 and a nats-server killed -9, in turn, at random times between warm-up and the end. */
  private async faultsAtRandom(): Promise<void> {
    const rand = random(SEED);
    const count = Math.max(2, Math.round(MINUTES / 15));
    const span = MINUTES * 60_000;
    const times = Array.from({ length: count }, () => this.started + span * (0.15 + 0.7 * rand())).sort((a, b) => a - b);
    for (const [i, at] of times.entries()) {
      while (!this.stopping && Date.now() < at) await sleep(500);
      if (this.stopping) return;
      if (i % 2 === 0) {
        const service = SERVICE_NAMES[Math.floor(rand() * SERVICE_NAMES.length)]!;
        process.kill(this.system.pidOf(service), "SIGKILL");
        this.faults.push(`${this.elapsed_s().toFixed(0)} s: kill -9 ${service}`);
      } else {
        await this.system.nats.restart();
        this.faults.push(`${this.elapsed_s().toFixed(0)} s: kill -9 nats-server (restarted by the supervisor)`);
      }
      log(`fault: ${this.faults.at(-1)}`);
    }
  }

  private sample(): void {
    const t_s = this.elapsed_s();
    for (const [name, pid] of processes(this.system)) {
      const m = measure(pid);
      if (!m) continue;
      let series = this.memory.get(name);
      if (!series || series.pid !== pid) {
        series = { pid, samples: [] };
        this.memory.set(name, series);
      }
      series.samples.push({ t_s, ...m });
    }
  }

  private async reports(): Promise<void> {
    let nextReport = Date.now() + REPORT_EVERY_MS;
    while (!this.stopping) {
      this.sample();
      if (Date.now() >= nextReport) {
        nextReport += REPORT_EVERY_MS;
        await this.report().catch((err) => log(`report failed: ${String(err)}`));
      }
      await sleep(Math.min(10_000, REPORT_EVERY_MS / 4));
    }
  }

  /**
   * Consumers per stream (an ephemeral consumer per open viewer and replay: a count that only grows
   * is a leak) and the indexer's durable backlog. No account may list consumers; stream info counts them.
   */
  private async consumers(): Promise<string> {
    try {
      const { jsm } = await jetStreamOf(this.observer);
      const counts = [];
      for (const stream of [streams.data.name, streams.runs.name]) counts.push(`${stream} ${(await jsm.streams.info(stream)).state.consumer_count}`);
      const indexer = await (await jetStreamOf(this.indexer)).jsm.consumers.info(streams.data.name, "indexer");
      return `${counts.join(", ")}; durable indexer: pending ${indexer.num_pending}, unacked ${indexer.num_ack_pending}`;
    } catch (err) {
      return `not readable: ${String((err as Error)?.message ?? err)}`;
    }
  }

  /** Volumes announced written and failed for the soak's sessions, and the rows the index has for them. */
  private async volumes(): Promise<{ written: string[]; failed: number; indexed: Set<string> }> {
    const stored = await readStored(this.observer, streams.data.name, subjects.volume.all);
    const ours = (s: string | undefined) => s?.startsWith("soak-embryo-") ?? false;
    const written = stored
      .filter((m) => m.subject === subjects.volume.written)
      .map((m) => VolumeWritten.parse(decodeJson(m.data)))
      .filter((v) => ours(v.session_id) && v.data_type === "volume")
      .map((v) => v.uid);
    const failed = stored
      .filter((m) => m.subject === subjects.volume.failed)
      .map((m) => VolumeFailed.parse(decodeJson(m.data)))
      .filter((v) => ours(v.session_id)).length;
    const indexed = new Set<string>();
    for (const i of EMBRYOS.keys()) {
      for (let offset = 0; ; offset += 1000) {
        const page = await call(this.observer, datastore.list, { session_id: `soak-embryo-${i + 1}`, data_type: "volume", limit: 1000, offset }, { timeoutMs: 10_000 });
        for (const item of page.items) indexed.add(item.uid);
        if (page.items.length < 1000) break;
      }
    }
    return { written, failed, indexed };
  }

  private async report(): Promise<void> {
    const rows = [["process", "pid", "rss MB", "fds", "restarts"]];
    for (const [name, pid] of processes(this.system)) {
      const m = measure(pid);
      const restarts = this.system.supervisor.lines.filter((l) => l.includes('"child started"') && l.includes(`"child":"${name}"`)).length - 1;
      rows.push([name, String(pid), m ? m.rss_mb.toFixed(1) : "-", m ? String(m.fds) : "-", name === "supervisor" || name === "nats-server" ? "-" : String(Math.max(0, restarts))]);
    }
    const v = await this.volumes();
    const notYet = v.written.filter((uid) => !v.indexed.has(uid)).length;
    log(
      [
        "",
        `── soak at ${(this.elapsed_s() / 60).toFixed(1)} of ${MINUTES} min ──`,
        table(rows),
        `JetStream consumers: ${await this.consumers()}`,
        `volumes: written ${v.written.length}, failed ${v.failed}, indexed ${v.indexed.size}, not indexed yet ${notYet}`,
        `runs: ${JSON.stringify(this.runs)}; viewer events ${this.sseEvents} (reconnects ${this.sseReconnects}); faults so far ${this.faults.length}; lasers left on ${this.lasersLeftOn.length}`,
      ].join("\n"),
    );
  }

  private async verdict(): Promise<boolean> {
    await this.report();
    // the index catches up after the last volume: a volume is lost only if it never arrives
    const settled = await waitFor(
      async () => {
        const v = await this.volumes();
        return v.written.every((uid) => v.indexed.has(uid)) ? v : null;
      },
      120_000,
      "the index to catch up",
    ).catch(() => this.volumes());
    const lost =
      settled.written.filter((uid) => !settled.indexed.has(uid)).length +
      [...settled.indexed].filter((uid) => !settled.written.includes(uid)).length +
      settled.written.filter((uid) => !existsSync(`${this.system.storage}/volumes/${uid}.tif`)).length;
    const allUp = await waitFor(
      async () => {
        const health = await this.client.services();
        return health.services.every((s) => s.state === "up") ? health : null;
      },
      60_000,
      "every service up",
    ).then(
      () => true,
      () => false,
    );
    const finalLaser = (await call(this.observer, hw.state, {}, { timeoutMs: 5_000 })).laser;
    if (finalLaser !== "ALL OFF") this.lasersLeftOn.push(`at the end: ${finalLaser}`);

    const rows = [["process", "samples", "rss first MB", "rss last MB", "slope MB/h", "memory"]];
    const judgeMemory = MINUTES >= 60;
    let memoryFlat = true;
    for (const [name, { samples }] of this.memory) {
      const measured = samples.filter((s) => s.t_s >= samples[0]!.t_s + WARM_UP_SHARE * (samples.at(-1)!.t_s - samples[0]!.t_s));
      const slope = slopeMbPerHour(measured);
      const windowH = measured.length > 1 ? (measured.at(-1)!.t_s - measured[0]!.t_s) / 3600 : 0;
      const mean = measured.reduce((s, x) => s + x.rss_mb, 0) / Math.max(1, measured.length);
      const flat = slope * windowH < Math.max(FLAT_MB, 0.05 * mean);
      if (judgeMemory && !flat) memoryFlat = false;
      const verdict = !judgeMemory ? "not judged" : flat ? "flat" : "GROWING";
      rows.push([name, String(measured.length), samples[0]!.rss_mb.toFixed(1), samples.at(-1)!.rss_mb.toFixed(1), slope.toFixed(2), verdict]);
    }
    const pass = lost === 0 && this.lasersLeftOn.length === 0 && allUp && (!judgeMemory || memoryFlat);
    const summary = {
      minutes: MINUTES,
      seed: SEED,
      volumes_written: settled.written.length,
      volumes_failed: settled.failed,
      volumes_indexed: settled.indexed.size,
      lost,
      runs: this.runs,
      lasers_left_on: this.lasersLeftOn,
      every_service_up: allUp,
      memory_flat: judgeMemory ? memoryFlat : null,
      memory_judged: judgeMemory,
      viewer_events: this.sseEvents,
      faults: this.faults,
      failures: this.failures.slice(-20),
      pass,
    };
    log(
      [
        "",
        "── soak result ──",
        `memory after warm-up (first ${WARM_UP_SHARE * 100} % of each process's life)${judgeMemory ? "" : ": shown, not judged under an hour"}`,
        table(rows),
        `faults: ${this.faults.join("; ") || "none"}`,
        `runs not successful (cut by the faults): ${this.failures.length}${this.failures.length ? `\n  ${this.failures.slice(-20).join("\n  ")}` : ""}`,
        `volumes: written ${settled.written.length}, failed ${settled.failed}, indexed ${settled.indexed.size}, lost ${lost}`,
        `lasers left on: ${this.lasersLeftOn.length ? this.lasersLeftOn.join("; ") : "never"}`,
        `every service up at the end: ${allUp}`,
        `SOAK ${pass ? "PASS" : "FAIL"}`,
        ...(values.json ? [`soak summary ${JSON.stringify(summary)}`] : []),
      ].join("\n"),
    );
    return pass;
  }
}

async function main(): Promise<number> {
  const storage = tempStorage("gently-soak-");
  const system = await startTestSystem({
    embeddedNats: { storage: storage.dir },
    // no frame_interval_ms: the simulated cameras take their exposure and readout time
    sim: { embryos: EMBRYOS.map((e) => ({ ...e, z_um: 0, a_um: 25, b_um: 15, c_um: 15, angle_deg: 0 })) },
    env: { GENTLY_LOG_LEVEL: "info", GENTLY_WRITER_FRAME_TIMEOUT_MS: "10000", GENTLY_RING_TIMEOUT_MS: "10000" },
  });
  let observer: NatsConnection | undefined;
  let indexer: NatsConnection | undefined;
  let client: GentlyClient | undefined;
  try {
    observer = await system.connectAs("plan-runner");
    indexer = await system.connectAs("indexer");
    for (const camera of ["HamCam1", "HamCam2"] as const) await call(observer, hw.setCamera, { camera, roi: ROI });
    client = await connect({ url: system.nats.url, user: "copilot", pass: system.credentials.copilot, storage: system.storage, timeoutMs: 20_000 });
    return (await new Soak(system, client, observer, indexer).run()) ? 0 : 1;
  } finally {
    await client?.close().catch(() => undefined);
    await observer?.close().catch(() => undefined);
    await indexer?.close().catch(() => undefined);
    await system.stop();
    storage.remove();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`soak failed to run: ${String((err as Error)?.stack ?? err)}\n`);
    process.exit(1);
  },
);
