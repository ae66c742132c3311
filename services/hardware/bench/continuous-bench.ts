import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, unlinkSync } from "node:fs";
import { rm } from "node:fs/promises";
import path from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import { median, percentile } from "@gently/bench-stats";
import { connectBus, createLogger, decodeJson } from "@gently/bus";
import { FrameDescriptor, newUid, subjects, type VolumeWritten } from "@gently/protocol";
import { nativeLibraryPath } from "@gently/native";
import { createRing, unlinkRing } from "@gently/ring";
import { spawnService, startTestNats } from "@gently/testing";
import { Acquisition } from "../src/acquisition";
import { Core } from "../src/core-binding";
import { benchAcquisitionDeps } from "./acquisition-deps";
import { SimTruth } from "../src/sim-truth";

const CAMERA = "HamCam1";
const SENSOR = 2048;
/** the shortest exposure: 100 frames/s, the rate a diSPIM's sCMOS gives at full frame */
const MIN_EXPOSURE_MS = 10;
/** the camera is paced to at most this share of dd's rate: the disk must allow the camera's rate */
const DISK_SHARE = 0.7;
const RING_SLOTS = 16;
const DD_BLOCK_BYTES = 8 << 20;

export interface ContinuousCase {
  volumes: number;
  slices: number;
  height: number;
  width: number;
}

export interface ContinuousResult extends ContinuousCase {
  /** the camera's exposure: MIN_EXPOSURE_MS, longer where the disk (dd before the run) could not take that rate */
  exposure_ms: number;
  status: string;
  reason?: string;
  volumes_written: number;
  /** the simulated camera's own rate at this exposure and ROI (rolling-shutter readout): the camera limit */
  camera_fps: number;
  achieved_fps: number;
  /** camera time between the last frame of a volume and the first of the next, less one frame interval */
  dead_time_median_ms: number;
  dead_time_p99_ms: number;
  /** every volume's bytes over first frame → last volume.written */
  disk_mb_s: number;
  /** dd conv=fdatasync of the same bytes as one volume batch, into the same directory, before and after the run */
  dd_mb_s: number;
  dropped: number;
}

export interface ContinuousBenchOptions {
  /** where the volumes go (on the disk being measured) */
  dir: string;
  cases?: ContinuousCase[];
  log?: (line: string) => void;
}

export const DEFAULT_CONTINUOUS_CASES: ContinuousCase[] = [
  { volumes: 100, slices: 50, height: 512, width: 2048 },
  { volumes: 20, slices: 100, height: 2048, width: 2048 },
];

/** MB/s of dd writing `bytes` with an fdatasync at the end, the file removed after. */
function ddMbS(dir: string, bytes: number): number {
  const out = path.join(dir, `dd-${newUid()}.bin`);
  const count = Math.max(1, Math.ceil(bytes / DD_BLOCK_BYTES));
  const t0 = performance.now();
  execFileSync("dd", ["if=/dev/zero", `of=${out}`, `bs=${DD_BLOCK_BYTES}`, `count=${count}`, "conv=fdatasync"], { stdio: "ignore" });
  const seconds = (performance.now() - t0) / 1000;
  unlinkSync(out);
  return (count * DD_BLOCK_BYTES) / 1e6 / seconds;
}

function cameraLimitFps(exposureMs: number, rows: number): number {
  const core = Core.open(nativeLibraryPath("gently_sim"));
  try {
    return new SimTruth(core).cameraLimitFps(exposureMs, rows);
  } finally {
    core.close();
  }
}

/** One continuous run: the acquisition path in this process (sim core → ring → descriptors), the real writer process writing every volume. */
async function runCase(
  nc: NatsConnection,
  ringPath: string,
  c: ContinuousCase,
  exposureMs: number,
): Promise<Omit<ContinuousResult, "dd_mb_s" | "camera_fps" | "exposure_ms" | keyof ContinuousCase>> {
  const logger = createLogger("continuous-bench", "silent");
  const core = Core.open(nativeLibraryPath("gently_sim"));
  const ring = createRing(ringPath, { slotBytes: SENSOR * SENSOR * 2, numSlots: RING_SLOTS });
  const firstFrameUs: number[] = [];
  const lastFrameUs: number[] = [];
  const intervalsUs: number[] = [];
  const written: VolumeWritten[] = [];
  let lastUs = 0;
  const frames = nc.subscribe(subjects.frames.frame("*"), {
    callback: (_err, msg) => {
      const d = FrameDescriptor.parse(decodeJson(msg.data));
      const v = d.volume_index ?? 0;
      if (d.seq === 0) firstFrameUs[v] = d.timestamp_us;
      else intervalsUs.push(d.timestamp_us - lastUs);
      if (d.seq === c.slices - 1) lastFrameUs[v] = d.timestamp_us;
      lastUs = d.timestamp_us;
    },
  });
  let allWritten: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (allWritten = resolve));
  const outcomes = nc.subscribe(subjects.volume.all, {
    callback: (_err, msg) => {
      const body = decodeJson(msg.data) as VolumeWritten;
      if (msg.subject === subjects.volume.written) {
        written.push(body);
        // the disk is being measured, not filled: each volume goes once it is announced (off the
        // event loop, which runs the acquisition: unlinking a big file can take a while)
        void rm(body.path, { force: true });
      }
      if (written.length === c.volumes || msg.subject === subjects.volume.failed) allWritten();
    },
  });
  try {
    await core.setRoi(CAMERA, { x: 0, y: (SENSOR - c.height) / 2, width: c.width, height: c.height });
    const deps = benchAcquisitionDeps(nc, core, ring, logger);
    const t0 = performance.now();
    const acquisition = await Acquisition.start(
      {
        acq_id: newUid(),
        volume_uid: newUid(),
        session_id: "bench",
        cameras: [CAMERA],
        num_slices: c.slices,
        exposure_ms: exposureMs,
        sweep: { piezo_start_um: 25, piezo_step_um: 50 / c.slices, galvo_start_deg: -0.5, galvo_step_deg: 1 / c.slices },
        laser_config: "488 only",
        keepalive_ms: 60_000,
        next_volumes: Array.from({ length: c.volumes - 1 }, () => ({ acq_id: newUid(), volume_uid: newUid() })),
      },
      deps,
    );
    const end = await acquisition.done;
    const cameraSeconds = (performance.now() - t0) / 1000;
    await Promise.race([done, new Promise((r) => setTimeout(r, 60_000))]);
    const seconds = (performance.now() - t0) / 1000;
    // frame to frame within volumes: the camera's interval as achieved
    const frameUs = median(intervalsUs);
    const dead: number[] = [];
    for (let v = 1; v < c.volumes; v++) {
      if (firstFrameUs[v] !== undefined && lastFrameUs[v - 1] !== undefined) dead.push((firstFrameUs[v]! - lastFrameUs[v - 1]! - frameUs) / 1000);
    }
    return {
      status: end.status,
      ...(end.reason ? { reason: end.reason } : {}),
      volumes_written: written.length,
      achieved_fps: end.frames / cameraSeconds,
      dead_time_median_ms: median(dead),
      dead_time_p99_ms: percentile(dead, 99),
      disk_mb_s: written.reduce((n, w) => n + w.bytes, 0) / 1e6 / seconds,
      dropped: end.dropped,
    };
  } finally {
    frames.unsubscribe();
    outcomes.unsubscribe();
    core.close();
    ring.close();
    unlinkRing(ringPath);
  }
}

/**
 * Continuous volumes at the camera's rate: for each case, one sequence of
 * back-to-back volumes through the acquisition path and the real writer
 * process, beside the simulated camera's own rate and dd into the same
 * directory (before and after the run, whose mean is the baseline: this
 * disk's speed swings). The exposure is 10 ms unless dd just before the run
 * says the disk cannot take that rate: then it is lengthened until the
 * camera needs at most 70 % of dd (the camera's rate is what the disk allows).
 */
export async function benchContinuous(opts: ContinuousBenchOptions): Promise<ContinuousResult[]> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const storage = mkdtempSync(path.join(opts.dir, ".bench-continuous-"));
  const ringPath = `/dev/shm/gently-bench-continuous-${process.pid}-${newUid()}`;
  const nats = await startTestNats();
  const writer = spawnService("writer", { GENTLY_NATS_URL: nats.url, GENTLY_STORAGE: storage, GENTLY_LOG_LEVEL: "warn" });
  const nc = await connectBus({ servers: nats.url, name: "continuous-bench", logger: createLogger("continuous-bench", "silent") });
  const results: ContinuousResult[] = [];
  try {
    await writer.waitForLog((l) => l.includes('"msg":"started"') || l.includes("started"), 30_000).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 1_000));
    for (const c of opts.cases ?? DEFAULT_CONTINUOUS_CASES) {
      const batchBytes = Math.min(c.slices * c.height * c.width * 2 * c.volumes, 2e9);
      const ddBefore = ddMbS(storage, batchBytes);
      const frameBytes = c.height * c.width * 2;
      const exposureMs = Math.max(MIN_EXPOSURE_MS, Math.ceil(frameBytes / 1e3 / (DISK_SHARE * ddBefore)));
      const run = await runCase(nc, ringPath, c, exposureMs);
      const ddAfter = ddMbS(storage, batchBytes);
      const result: ContinuousResult = { ...c, exposure_ms: exposureMs, camera_fps: cameraLimitFps(exposureMs, c.height), dd_mb_s: (ddBefore + ddAfter) / 2, ...run };
      log(
        `continuous ${c.volumes} × ${c.slices}×${c.height}×${c.width} at ${exposureMs} ms: ${result.status}${result.reason ? ` (${result.reason})` : ""}, ${result.volumes_written} written, ` +
          `${result.achieved_fps.toFixed(1)} of ${result.camera_fps.toFixed(1)} frames/s, dead time median ${result.dead_time_median_ms.toFixed(2)} ms p99 ${result.dead_time_p99_ms.toFixed(2)} ms, ` +
          `disk ${result.disk_mb_s.toFixed(0)} MB/s vs dd ${ddBefore.toFixed(0)}/${ddAfter.toFixed(0)} MB/s, dropped ${result.dropped}`,
      );
      results.push(result);
    }
    return results;
  } finally {
    await nc.close();
    await writer.stop();
    await nats.stop();
    rmSync(storage, { recursive: true, force: true });
  }
}
