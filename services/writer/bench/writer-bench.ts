import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { NatsConnection } from "@nats-io/transport-node";
import { median } from "@gently/bench-stats";
import { connectBus, createLogger, decodeJson } from "@gently/bus";
import { microServiceName, subjects, VolumeFailed, VolumeWritten } from "@gently/protocol";
import { createRing, unlinkRing } from "@gently/ring";
import { freePort, NatsServerProcess, nodeArgsFor, serviceEntry } from "@gently/supervisor";
import { FrameProducer } from "../test/frame-producer";

/**
 * Write speed of the real writer path — frames committed into the
 * shared-memory ring, announced over NATS, written as OME-TIFF by the writer
 * process straight from the ring slots, fsynced, renamed — against `dd conv=fdatasync` of the
 * same size on the same directory, and against Python tifffile when the
 * system python has it. Disk speed varies several-fold from run to run, so
 * the runs are interleaved (writer, dd, tifffile; then dd, tifffile, writer;
 * ...) and the ratios are taken between medians.
 */

export interface WriterBenchOptions {
  /** planes in the volume (200 × 2048 × 2048 uint16 = 1.6 GB by default) */
  slices?: number;
  width?: number;
  height?: number;
  /** interleaved rounds (default 6); each runs every contender once, starting with the next one in turn */
  rounds?: number;
  log?: (line: string) => void;
}

export interface WriterBenchResult {
  bytes: number;
  rounds: number;
  writer_mb_s: number[];
  dd_mb_s: number[];
  /** absent when /usr/bin/python3 cannot import tifffile */
  tifffile_mb_s?: number[];
  /**
   * CPU seconds (user + system) per GB written: the writer process, and the
   * tifffile process during its timed part. Unlike MB/s this hardly depends
   * on what else the machine runs, so it shows the work each does per byte.
   */
  writer_cpu_s_per_gb: number[];
  tifffile_cpu_s_per_gb?: number[];
  /** median writer MB/s over median dd MB/s; target >= 0.9 */
  ratio_vs_dd: number;
  /** median writer MB/s over median tifffile MB/s; target >= 1.0 */
  ratio_vs_tifffile?: number;
}

const SYSTEM_PYTHON = "/usr/bin/python3";
const TIFFFILE_SCRIPT = fileURLToPath(new URL("../bench/tifffile_write.py", import.meta.url));
const DD_BLOCK_BYTES = 8 << 20;

/** One timed write: MB/s, and CPU seconds per GB where the contender's process can be measured. */
interface Sample {
  mb_s: number;
  cpu_s_per_gb?: number;
}

/**
 * Deletes a contender's file and waits for the filesystem to settle: with
 * online discard (ext4 -o discard) the blocks of a deleted 1.6 GB file are
 * trimmed at the next journal commit, which would otherwise land in the next
 * contender's fsync.
 */
function removeAndSettle(file: string, dir: string): void {
  rmSync(file);
  execFileSync("sync", ["-f", dir]);
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
function cpuSecondsOf(pid: number, ticksPerSecond: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  // after "pid (comm) ": state is field 0, utime 11, stime 12
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

function hasTifffile(): boolean {
  return spawnSync(SYSTEM_PYTHON, ["-c", "import tifffile"], { stdio: "ignore" }).status === 0;
}

/** Waits for the next volume.written or volume.failed of `uid`. */
function nextOutcome(nc: NatsConnection, uid: string): Promise<VolumeWritten> {
  return new Promise((resolve, reject) => {
    const sub = nc.subscribe(subjects.volume.all, {
      callback: (_err, msg) => {
        const body = decodeJson(msg.data) as { uid?: string };
        if (body.uid !== uid) return;
        sub.unsubscribe();
        if (msg.subject === subjects.volume.written) resolve(VolumeWritten.parse(body));
        else reject(new Error(`writer failed the volume: ${VolumeFailed.parse(body).reason}`));
      },
    });
  });
}

async function waitForWriter(nc: NatsConnection, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`writer exited with code ${child.exitCode}`);
    try {
      await nc.request(`$SRV.PING.${microServiceName("writer")}`, undefined, { timeout: 500 });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error("writer did not answer $SRV.PING within 30 s");
}

export async function benchWriter(dir: string, opts: WriterBenchOptions = {}): Promise<WriterBenchResult> {
  const slices = opts.slices ?? 200;
  const width = opts.width ?? 2048;
  const height = opts.height ?? 2048;
  const rounds = opts.rounds ?? 6;
  const log = opts.log ?? ((line: string) => console.log(line));
  const planeBytes = width * height * 2;
  const work = await mkdtemp(path.join(dir, ".writer-bench-"));
  const natsStore = mkdtempSync(path.join(os.tmpdir(), "gently-writer-bench-nats-"));
  const ringPath = `/dev/shm/gently-writer-bench-${process.pid}`;
  const logger = createLogger("writer-bench", "silent");
  const nats = new NatsServerProcess({ port: await freePort(), storeDir: natsStore });
  let writer: ChildProcess | undefined;
  let nc: NatsConnection | undefined;
  const ring = createRing(ringPath, { slotBytes: planeBytes, numSlots: 8 });
  try {
    await nats.start();
    nc = await connectBus({ servers: nats.url, name: "writer-bench", logger });
    writer = spawn(process.execPath, nodeArgsFor(serviceEntry("writer")), {
      env: { ...process.env, GENTLY_NATS_URL: nats.url, GENTLY_STORAGE: work, GENTLY_LOG_LEVEL: "warn" },
      stdio: ["ignore", "inherit", "inherit"],
    });
    await waitForWriter(nc, writer);
    // Every contender writes into the writer's own directory: same filesystem, same block group.
    const volumesDir = path.join(work, "volumes");
    const producer = new FrameProducer(nc, ring);
    // The camera's side costs this host nothing (it writes slots by DMA): the slots get their
    // pixels once, untimed, and every frame is committed with what its slot holds.
    producer.fillSlots(planeBytes);
    const acquire = async (numSlices: number): Promise<number> => {
      const begin = producer.acquisition({ num_slices: numSlices, width, height, session_id: "bench" });
      const outcome = nextOutcome(nc!, begin.volume_uid);
      const t0 = performance.now();
      await producer.begin(begin);
      for (let seq = 0; seq < numSlices; seq++) await producer.frame(begin, seq);
      producer.end(begin);
      const written = await outcome;
      const seconds = (performance.now() - t0) / 1000;
      removeAndSettle(written.path, work);
      return written.bytes / 1e6 / seconds;
    };
    const ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
    const writerRun = async (): Promise<Sample> => {
      const cpu0 = cpuSecondsOf(writer!.pid!, ticksPerSecond);
      const mb_s = await acquire(slices);
      return { mb_s, cpu_s_per_gb: (cpuSecondsOf(writer!.pid!, ticksPerSecond) - cpu0) / (result.bytes / 1e9) };
    };
    const ddRun = (): Sample => {
      const out = path.join(volumesDir, "dd.bin");
      const count = Math.ceil((slices * planeBytes) / DD_BLOCK_BYTES);
      const t0 = performance.now();
      execFileSync("dd", ["if=/dev/zero", `of=${out}`, `bs=${DD_BLOCK_BYTES}`, `count=${count}`, "conv=fdatasync"], { stdio: "ignore" });
      const seconds = (performance.now() - t0) / 1000;
      removeAndSettle(out, work);
      return { mb_s: (count * DD_BLOCK_BYTES) / 1e6 / seconds };
    };
    const tifffileRun = (): Sample => {
      const out = path.join(volumesDir, "tifffile.ome.tif");
      const printed = execFileSync(SYSTEM_PYTHON, [TIFFFILE_SCRIPT, out, String(slices), String(height), String(width)], { encoding: "utf8" });
      removeAndSettle(out, work);
      const { seconds, bytes, cpu_seconds } = JSON.parse(printed) as { seconds: number; bytes: number; cpu_seconds: number };
      return { mb_s: bytes / 1e6 / seconds, cpu_s_per_gb: cpu_seconds / (bytes / 1e9) };
    };

    const withTifffile = hasTifffile();
    const result: WriterBenchResult = { bytes: slices * planeBytes, rounds, writer_mb_s: [], dd_mb_s: [], ratio_vs_dd: 0, writer_cpu_s_per_gb: [] };
    if (withTifffile) {
      result.tifffile_mb_s = [];
      result.tifffile_cpu_s_per_gb = [];
    }
    else log(`${SYSTEM_PYTHON} cannot import tifffile (Debian: apt-get install python3-tifffile): no tifffile comparison`);
    log(`writer bench: ${slices} × ${height} × ${width} uint16 (${(result.bytes / 1e9).toFixed(2)} GB) in ${dir}, ${rounds} interleaved rounds`);
    type Contender = { name: string; run: () => Sample | Promise<Sample>; samples: number[]; cpu?: number[] };
    const contenders: Contender[] = [
      { name: "writer", run: writerRun, samples: result.writer_mb_s, cpu: result.writer_cpu_s_per_gb },
      { name: "dd", run: ddRun, samples: result.dd_mb_s },
      ...(result.tifffile_mb_s ? [{ name: "tifffile", run: tifffileRun, samples: result.tifffile_mb_s, cpu: result.tifffile_cpu_s_per_gb }] : []),
    ];
    // Round 0 is not counted: whoever ran first would pay for the first touches of memory (page
    // cache, on a VM the guest's pages themselves), the writer's JIT and the disk waking up.
    for (let r = 0; r <= rounds; r++) {
      // Each round starts with the next contender, so none always runs right after the same other one.
      const order = contenders.map((_, i) => contenders[(i + r) % contenders.length]);
      const parts: string[] = [];
      for (const c of order) {
        const sample = await c.run();
        if (r > 0) {
          c.samples.push(sample.mb_s);
          if (sample.cpu_s_per_gb !== undefined) c.cpu?.push(sample.cpu_s_per_gb);
        }
        parts.push(`${c.name} ${sample.mb_s.toFixed(0)} MB/s`);
      }
      log(r === 0 ? `warm-up (not counted): ${parts.join(", ")}` : `round ${r}: ${parts.join(", ")}`);
    }
    result.ratio_vs_dd = median(result.writer_mb_s) / median(result.dd_mb_s);
    let summary = `median writer ${median(result.writer_mb_s).toFixed(0)} MB/s; writer/dd ${result.ratio_vs_dd.toFixed(2)} (target ≥ 0.9)`;
    if (result.tifffile_mb_s) {
      result.ratio_vs_tifffile = median(result.writer_mb_s) / median(result.tifffile_mb_s);
      summary += `; writer/tifffile ${result.ratio_vs_tifffile.toFixed(2)} (target ≥ 1.0)`;
    }
    summary += `; CPU s/GB: writer ${median(result.writer_cpu_s_per_gb).toFixed(2)}`;
    if (result.tifffile_cpu_s_per_gb) summary += `, tifffile ${median(result.tifffile_cpu_s_per_gb).toFixed(2)}`;
    log(summary);
    return result;
  } finally {
    if (writer && writer.exitCode === null) {
      const exited = new Promise((r) => writer!.once("exit", r));
      writer.kill("SIGTERM");
      await exited;
    }
    await nc?.close();
    ring.close();
    unlinkRing(ringPath);
    await nats.stop();
    rmSync(natsStore, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
  }
}

// npx tsx services/writer/src/bench.ts [dir] [slices] [rounds]
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [dir = process.cwd(), slices, rounds] = process.argv.slice(2);
  await benchWriter(dir, { slices: slices ? Number(slices) : undefined, rounds: rounds ? Number(rounds) : undefined });
}
