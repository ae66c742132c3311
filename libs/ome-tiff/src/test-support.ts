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

/** A copy of `bytes` in page-aligned memory, as a camera's ring slot holds a frame (O_DIRECT needs the alignment). */
export function pageAligned(bytes: Buffer): Buffer {
  const raw = Buffer.alloc(bytes.length + 4096);
  const skip = (4096 - Number(koffi.address(raw) % 4096n)) % 4096;
  const aligned = raw.subarray(skip, skip + bytes.length);
  bytes.copy(aligned);
  return aligned;
}

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
