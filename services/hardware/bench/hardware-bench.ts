import type { NatsConnection } from "@nats-io/transport-node";
import { connectBus, createLogger } from "@gently/bus";
import { newUid } from "@gently/protocol";
import { nativeLibraryPath } from "@gently/native";
import { createRing, unlinkRing, type Ring } from "@gently/ring";
import { startTestNats } from "@gently/testing";
import { Acquisition } from "../src/acquisition";
import { Core } from "../src/core-binding";
import { benchAcquisitionDeps } from "./acquisition-deps";
import { PreviewPublisher } from "../src/preview";
import { SimTruth } from "../src/sim-truth";
import { TestReader } from "../test/test-reader";

export interface BenchRow {
  name: string;
  value: number;
  unit: string;
  /** value / the baseline named in the row */
  ratio_vs_baseline: number;
}

export interface HardwareBenchOptions {
  /** frames per frame-rate measurement */
  frames?: number;
  /** copies per bandwidth measurement */
  copies?: number;
}

const WIDTH = 2048;
const HEIGHT = 2048;
const FRAME_BYTES = WIDTH * HEIGHT * 2;
const CAMERA = "HamCam1";

async function fullSensor(core: Core): Promise<void> {
  await core.setRoi(CAMERA, { x: 0, y: 0, width: WIDTH, height: HEIGHT });
  await core.setExposure(CAMERA, EXPOSURE_MS);
}

const EXPOSURE_MS = 10;

/** The simulated camera's own rate at the bench's exposure and ROI: what a real sCMOS would deliver. */
function cameraLimitFps(): number {
  const core = Core.open(nativeLibraryPath("gently_sim"));
  try {
    return new SimTruth(core).cameraLimitFps(EXPOSURE_MS, HEIGHT);
  } finally {
    core.close();
  }
}

/** gc_pop_next straight into ring slots, committed and released at once: the core's rate with nothing downstream. */
async function rawPopFps(ring: Ring, frames: number): Promise<number> {
  const core = Core.open(nativeLibraryPath("gently_sim"));
  try {
    await fullSensor(core);
    await core.setConfig("Laser", "488 only");
    await core.startSequence([CAMERA], frames);
    const t0 = performance.now();
    for (let seq = 0; seq < frames; seq++) {
      const slot = await ring.acquire(10_000);
      if (slot === null) throw new Error("bench ring has no free slot");
      const popped = await core.popNext(ring.slotPointer(slot), ring.slotBytes, 10_000);
      if (popped.status !== "frame") throw new Error(`sim gave no frame ${seq}: ${popped.status}`);
      ring.commit(slot, seq, FRAME_BYTES);
      ring.release(slot, seq);
    }
    return frames / ((performance.now() - t0) / 1000);
  } finally {
    await core.setConfig("Laser", "ALL OFF");
    core.close();
  }
}

/** The service's acquisition path in one process: begin, core → slot, descriptor on a real NATS, a reader copying every frame out and releasing it. */
async function acquisitionFps(nc: NatsConnection, ring: Ring, frames: number, withPreviews: boolean): Promise<number> {
  const logger = createLogger("hardware-bench", "silent");
  const core = Core.open(nativeLibraryPath("gently_sim"));
  const reader = new TestReader(nc, { discardPixels: true });
  await reader.start();
  try {
    await fullSensor(core);
    const deps = {
      ...benchAcquisitionDeps(nc, core, ring, logger),
      ...(withPreviews ? { preview: new PreviewPublisher(nc, logger) } : {}),
    };
    const t0 = performance.now();
    const acquisition = await Acquisition.start(
      {
        acq_id: newUid(),
        volume_uid: newUid(),
        session_id: "bench",
        cameras: [CAMERA],
        num_slices: frames,
        exposure_ms: EXPOSURE_MS,
        laser_config: "488 only",
        keepalive_ms: 60_000,
      },
      deps,
    );
    const end = await acquisition.done;
    await reader.waitEnd(end.acq_id);
    const seconds = (performance.now() - t0) / 1000;
    if (end.status !== "complete" || end.frames !== frames) throw new Error(`bench acquisition ended ${end.status}: ${end.reason ?? ""}`);
    return frames / seconds;
  } finally {
    await reader.stop();
    core.close();
  }
}

/** GB/s of `copy` over `copies` repetitions of one frame. */
function bandwidth(copies: number, copy: () => void): number {
  copy();
  const t0 = performance.now();
  for (let i = 0; i < copies; i++) copy();
  return (copies * FRAME_BYTES) / ((performance.now() - t0) / 1000) / 1e9;
}

/**
 * Sim frame rate into shared memory (raw and through the acquisition path)
 * and the shm hop's bandwidth beside a plain memcpy of the same frame size,
 * all measured in the same run.
 */
export async function benchHardware(opts: HardwareBenchOptions = {}): Promise<BenchRow[]> {
  const frames = opts.frames ?? 100;
  const copies = opts.copies ?? 200;
  const ringPath = `/dev/shm/gently-bench-hardware-${process.pid}-${newUid()}`;
  const ring = createRing(ringPath, { slotBytes: FRAME_BYTES, numSlots: 4 });
  const nats = await startTestNats();
  const nc = await connectBus({ servers: nats.url, name: "hardware-bench", logger: createLogger("hardware-bench", "silent") });
  try {
    const camera = cameraLimitFps();
    const raw = await rawPopFps(ring, frames);
    const path = await acquisitionFps(nc, ring, frames, false);
    const previewed = await acquisitionFps(nc, ring, frames, true);

    const slot = ring.tryAcquire();
    if (slot === null) throw new Error("bench ring has no free slot");
    ring.commit(slot, 0, FRAME_BYTES);
    const into = Buffer.alloc(FRAME_BYTES);
    const source = Buffer.alloc(FRAME_BYTES, 7);
    const shm = bandwidth(copies, () => ring.read(slot, 0, into));
    const memcpy = bandwidth(copies, () => source.copy(into));
    ring.release(slot, 0);

    return [
      { name: `sim camera limit: 2048x2048 at ${EXPOSURE_MS} ms, rolling-shutter readout (baseline)`, value: camera, unit: "frames/s", ratio_vs_baseline: 1 },
      { name: "sim 2048x2048 uint16: raw gc_pop_next into a ring slot", value: raw, unit: "frames/s", ratio_vs_baseline: raw / camera },
      {
        name: "sim 2048x2048 uint16: acquisition path (core -> ring slot -> descriptor on NATS -> reader copy + release)",
        value: path,
        unit: "frames/s",
        ratio_vs_baseline: path / camera,
      },
      {
        name: "sim 2048x2048 uint16: acquisition path with live previews on (≤ 10/s, dropped first)",
        value: previewed,
        unit: "frames/s",
        ratio_vs_baseline: previewed / camera,
      },
      { name: "memcpy: Buffer.copy of one 8 MiB frame (baseline)", value: memcpy, unit: "GB/s", ratio_vs_baseline: 1 },
      { name: "shm hop: ring.read of one 8 MiB frame into a Buffer", value: shm, unit: "GB/s", ratio_vs_baseline: shm / memcpy },
    ];
  } finally {
    await nc.close();
    await nats.stop();
    ring.close();
    unlinkRing(ringPath);
  }
}
