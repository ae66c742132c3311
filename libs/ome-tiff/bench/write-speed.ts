/**
 * Rough write-throughput check for the OME-TIFF sink against `dd bs=8M conv=fdatasync` on the same
 * disk. Usage: npx tsx libs/ome-tiff/bench/write-speed.ts [dir] [planes] [rounds]
 * Disk speed varies between runs, so the two are interleaved and each round reported.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { median } from "@gently/bench-stats";
import { createOmeTiffSink } from "../src/index";

const dir = await mkdtemp(join(process.argv[2] ?? process.cwd(), ".ome-tiff-bench-"));
const planes = Number(process.argv[3] ?? 50);
const rounds = Number(process.argv[4] ?? 3);
const size_x_px = 2048;
const size_y_px = 2048;
const planeBytes = size_x_px * size_y_px * 2;
// A few distinct buffers, like ring slots; contents do not affect write speed.
const buffers = Array.from({ length: 4 }, (_, k) => Buffer.alloc(planeBytes, k + 1));

async function sinkRun(i: number): Promise<{ mb_s: number; bytes: number }> {
  const finalPath = join(dir, `bench_${i}.ome.tif`);
  const t0 = process.hrtime.bigint();
  const sink = await createOmeTiffSink({
    finalPath,
    meta: {
      uid: `bench${i}`,
      session_id: "bench",
      run_uid: "bench",
      plan_name: "bench",
      size_x: size_x_px,
      size_y: size_y_px,
      size_z: planes,
      pixel_size_um: 0.1625,
      z_step_um: 1,
      exposure_ms: 10,
      channels: [{ camera: "camA", laser: "488nm" }],
      stage_position_um: { x_um: 0, y_um: 0, z_um: 0 },
      acquired_at: new Date().toISOString(),
    },
  });
  for (let z = 0; z < planes; z++) await sink.appendPlane(buffers[z % buffers.length]);
  const result = await sink.finalize();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  await rm(finalPath);
  execFileSync("sync", ["-f", dir]); // the deleted file's discards land here, not in the next dd
  return { mb_s: result.bytes / 1e6 / s, bytes: result.bytes };
}

function ddRun(i: number): number {
  const out = join(dir, `dd_${i}.bin`);
  const t0 = process.hrtime.bigint();
  execFileSync("dd", ["if=/dev/zero", `of=${out}`, "bs=8M", `count=${planes}`, "conv=fdatasync"], { stdio: "ignore" });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  execFileSync("rm", [out]);
  execFileSync("sync", ["-f", dir]);
  return (planes * 8 * 1024 * 1024) / 1e6 / s;
}

try {
  const ratios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const dd = ddRun(r);
    const sink = await sinkRun(r);
    ratios.push(sink.mb_s / dd);
    console.log(`round ${r}: sink ${sink.mb_s.toFixed(0)} MB/s (${(sink.bytes / 1e6).toFixed(0)} MB), dd ${dd.toFixed(0)} MB/s, ratio ${(sink.mb_s / dd).toFixed(2)}`);
  }
  console.log(`median ratio sink/dd: ${median(ratios).toFixed(2)}`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
