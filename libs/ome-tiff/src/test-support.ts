import { closeSync, openSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromFile } from "geotiff";
import koffi from "koffi";
import type { VolumeMetaInput } from "./meta";

/** Realistic single-camera metadata; tests override what they exercise. */
export function sampleMeta(overrides: Partial<VolumeMetaInput> = {}): VolumeMetaInput {
  return {
    uid: "vol_7Hq2x",
    session_id: "sess-2024-05-01",
    run_uid: "run_aa01",
    plan_name: "embryo z-stack",
    size_x: 64,
    size_y: 48,
    size_z: 5,
    pixel_size_um: 0.1625,
    z_step_um: 1.5,
    exposure_ms: 10,
    channels: [{ camera: "camA", laser: "488nm", excitation_nm: 488, emission_nm: 525 }],
    laser_config: [{ wavelength_nm: 488, power_mw: 2.5, enabled: true }],
    stage_position_um: { x_um: 1200.5, y_um: -340.25, z_um: 50 },
    sweep: { piezo_start_um: -20, piezo_end_um: 20, galvo_start_v: -0.8, galvo_end_v: 0.8 },
    acquired_at: "2024-05-01T10:15:30.250Z",
    ...overrides,
  };
}

/** Deterministic pseudo-random plane bytes, different for every index. */
export function planeData(bytes: number, index: number): Buffer {
  const buf = Buffer.allocUnsafe(bytes);
  let s = (index * 2654435761 + 12345) >>> 0;
  for (let i = 0; i < bytes; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    buf[i] = s >>> 24;
  }
  return buf;
}

const SYS_CACHESTAT = 451; // x86_64 and arm64, Linux >= 6.5
const syscall = koffi.load("libc.so.6").func("long syscall(long number, ...)");

/** Pages of one file in the page cache (cachestat(2)); throws where the kernel lacks it. */
export function cachedPagesOf(file: string): number {
  const fd = openSync(file, "r");
  try {
    const range = new BigUint64Array(2); // offset 0, length 0 = the whole file
    const stat = new BigUint64Array(5); // nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted
    const rc = syscall(SYS_CACHESTAT, "uint", fd, "void *", range, "void *", stat, "uint", 0) as number;
    if (rc !== 0) throw new Error(`cachestat failed for ${file}`);
    return Number(stat[0]);
  } finally {
    closeSync(fd);
  }
}

const TMPFS_MAGIC = 0x01021994;

/** cachestat works here and the temp directory is on a disk (tmpfs pages never go to a disk or leave the cache). */
export const pageCacheIsObservable: boolean = (() => {
  const probe = join(tmpdir(), `gently-cachestat-probe-${process.pid}`);
  try {
    writeFileSync(probe, "x");
    cachedPagesOf(probe);
    return statfsSync(tmpdir()).type !== TMPFS_MAGIC;
  } catch {
    return false;
  } finally {
    rmSync(probe, { force: true });
  }
})();

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "gently-ome-tiff-"));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Reads every image with geotiff, an independent TIFF reader, as raw little-endian bytes. */
export async function readPlanesWithGeotiff(path: string, indices?: number[]): Promise<{ count: number; planes: Map<number, Buffer>; description: string | undefined }> {
  const tiff = await fromFile(path);
  try {
    const count = await tiff.getImageCount();
    const planes = new Map<number, Buffer>();
    for (const i of indices ?? Array.from({ length: count }, (_, k) => k)) {
      const image = await tiff.getImage(i);
      const [raster] = (await image.readRasters()) as unknown as ArrayLike<number>[] & { buffer?: never }[];
      const typed = raster as unknown as Uint8Array | Uint16Array;
      planes.set(i, Buffer.from(typed.buffer, typed.byteOffset, typed.byteLength));
    }
    const first = await tiff.getImage(0);
    const description = (await first.fileDirectory.loadValue("ImageDescription")) as string | undefined;
    return { count, planes, description };
  } finally {
    await tiff.close();
  }
}
