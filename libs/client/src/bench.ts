import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { median } from "@gently/bench-stats";
import { createOmeTiffSink } from "@gently/ome-tiff";
import { isWriterLayout, readVolumeFile, readVolumeRegion, readWithGeotiff } from "@gently/ome-tiff";

export interface LoadBenchOptions {
  /** where the volume is written (the disk the copilot reads from) */
  dir: string;
  slices?: number;
  height?: number;
  width?: number;
  rounds?: number;
}

export interface LoadBenchResult {
  shape: [number, number, number];
  bytes: number;
  /** readVolumeFile (the client's loadVolume) on a warm page cache: the writer's planes mapped, not copied */
  load_mb_s: number;
  /** `cat file > /dev/null` of the same file, interleaved with the loads */
  cat_mb_s: number;
  /** the same file through geotiff (the foreign-file path, what loadVolume did before) */
  geotiff_mb_s: number;
  /** one plane (readVolumeRegion of one z) */
  slice_ms: number;
}

function seconds(fn: () => unknown): number {
  const t0 = performance.now();
  fn();
  return (performance.now() - t0) / 1000;
}

async function secondsAsync(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

/**
 * loadVolume's read of a volume the writer wrote, beside `cat` of the same
 * file in the same run (interleaved rounds, page cache warm for both: the
 * copilot loads what was just acquired) and beside geotiff.
 */
export async function benchLoadVolume(opts: LoadBenchOptions): Promise<LoadBenchResult> {
  const slices = opts.slices ?? 50;
  const height = opts.height ?? 512;
  const width = opts.width ?? 2048;
  const rounds = opts.rounds ?? 5;
  const dir = mkdtempSync(path.join(opts.dir, ".bench-load-"));
  try {
    const file = path.join(dir, "volume.tif");
    const sink = await createOmeTiffSink({
      finalPath: file,
      meta: {
        uid: "bench_load",
        session_id: "bench",
        run_uid: "bench_load_run",
        plan_name: "acquire_volume",
        size_x: width,
        size_y: height,
        size_z: slices,
        pixel_size_um: 0.1625,
        z_step_um: 1,
        exposure_ms: 10,
        channels: [{ camera: "HamCam1", laser: "488nm", excitation_nm: 488, emission_nm: 525 }],
        stage_position_um: { x_um: 1500, y_um: 0, z_um: 100 },
        acquired_at: new Date().toISOString(),
      },
    });
    const plane = Buffer.alloc(width * height * 2);
    for (let z = 0; z < slices; z++) {
      plane.fill(z & 0xff);
      await sink.appendPlane(plane);
    }
    await sink.finalize();
    if (!(await isWriterLayout(file))) throw new Error("the bench volume is not read as the writer's layout");
    const bytes = statSync(file).size;
    const cat = () => {
      const r = spawnSync("sh", ["-c", 'cat "$0" > /dev/null', file]);
      if (r.status !== 0) throw new Error(`cat failed: ${r.stderr.toString()}`);
    };
    cat();
    await readVolumeFile(file);
    const loads: number[] = [];
    const cats: number[] = [];
    const geotiffs: number[] = [];
    const slicesMs: number[] = [];
    for (let r = 0; r < rounds; r++) {
      cats.push(bytes / 1e6 / seconds(cat));
      loads.push(bytes / 1e6 / (await secondsAsync(() => readVolumeFile(file))));
      if (r < 2) geotiffs.push(bytes / 1e6 / (await secondsAsync(() => readWithGeotiff(file))));
    }
    for (let z = 0; z < slices; z += 5) slicesMs.push(1000 * (await secondsAsync(() => readVolumeRegion(file, { z: [z, z + 1] }))));
    return {
      shape: [slices, height, width],
      bytes,
      load_mb_s: median(loads),
      cat_mb_s: median(cats),
      geotiff_mb_s: median(geotiffs),
      slice_ms: median(slicesMs),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
