import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOmeTiffSink, type VolumeMetaInput } from "./index";
import { GentlyError } from "@gently/protocol";
import { isWriterLayout, readVolumeFile, readVolumeRegion, readWithGeotiff, type LoadedVolume } from "./volume-read";

/** Deterministic pseudo-random bytes, different for every plane. */
function planeBytes(bytes: number, index: number): Buffer {
  const buf = Buffer.allocUnsafe(bytes);
  let s = (index * 2654435761 + 12345) >>> 0;
  for (let i = 0; i < bytes; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    buf[i] = s >>> 24;
  }
  return buf;
}

function meta(overrides: Partial<VolumeMetaInput>): VolumeMetaInput {
  return {
    uid: "vol_fast_read",
    session_id: "volume-file-test",
    run_uid: "run_fast_read",
    plan_name: "acquire_volume",
    stage_position_um: { x_um: 1500, y_um: 0, z_um: 100 },
    size_x: 64,
    size_y: 48,
    size_z: 5,
    pixel_size_um: 0.1625,
    z_step_um: 1,
    exposure_ms: 10,
    channels: [{ camera: "HamCam1", laser: "488nm", excitation_nm: 488, emission_nm: 525 }],
    acquired_at: "2026-01-01T00:00:00.000Z",
    ...overrides,
  };
}

/** A file as the writer writes it (the same sink), planes appended in the sink's order. */
async function writeVolume(file: string, m: VolumeMetaInput, opts: { rowsPerStrip?: number; forceBigTiff?: boolean } = {}): Promise<void> {
  const sink = await createOmeTiffSink({ finalPath: file, meta: m, ...opts });
  const bytesPerSample = m.dtype === "uint8" ? 1 : 2;
  const planes = m.size_z * m.channels.length;
  for (let i = 0; i < planes; i++) await sink.appendPlane(planeBytes(m.size_x * m.size_y * bytesPerSample, i));
  await sink.finalize();
}

/** The same file, but not ours: its Software tag says another program wrote it. */
function foreignCopy(file: string): string {
  const copy = file.replace(/\.tif$/, ".foreign.tif");
  copyFileSync(file, copy);
  const bytes = readFileSync(copy);
  const at = bytes.indexOf(Buffer.from("gently\0", "latin1"));
  expect(at).toBeGreaterThan(0);
  bytes.write("other!", at, "latin1");
  writeFileSync(copy, bytes);
  return copy;
}

function expectSame(a: LoadedVolume, b: LoadedVolume): void {
  expect(a.shape).toEqual(b.shape);
  expect(a.dtype).toBe(b.dtype);
  expect(a.data.constructor).toBe(b.data.constructor);
  expect(Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength).equals(Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength))).toBe(true);
  expect(a.metadata).toEqual(b.metadata);
}

describe("reading volume files: the writer's own layout directly, geotiff for the rest", () => {
  let dir: string;
  const files: Record<string, string> = {};

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "gently-volume-file-"));
    files.twoCameras = path.join(dir, "two.tif");
    await writeVolume(
      files.twoCameras,
      meta({
        size_c: 2,
        dimension_order: "XYCZT",
        channels: [
          { camera: "HamCam1", laser: "488nm", excitation_nm: 488, emission_nm: 525 },
          { camera: "HamCam2", laser: "561nm", excitation_nm: 561, emission_nm: 600 },
        ],
      }),
      { rowsPerStrip: 7 },
    );
    files.u8 = path.join(dir, "u8.tif");
    await writeVolume(files.u8, meta({ dtype: "uint8", size_x: 33, size_y: 17, size_z: 3 }));
    // 1 MiB planes: the sink aligns them to 4096 bytes (padding after each IFD)
    files.aligned = path.join(dir, "aligned.tif");
    await writeVolume(files.aligned, meta({ size_x: 1024, size_y: 512, size_z: 3 }));
    files.bigTiff = path.join(dir, "big.tif");
    await writeVolume(files.bigTiff, meta({ size_z: 4 }), { forceBigTiff: true, rowsPerStrip: 16 });
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reads the writer's files straight from their planes exactly as geotiff does ([c][z][y][x], metadata, dtype)", async () => {
    for (const file of Object.values(files)) {
      expect(await isWriterLayout(file), file).toBe(true);
      const fast = await readVolumeFile(file);
      expectSame(fast, await readWithGeotiff(file));
    }
    const two = await readVolumeFile(files.twoCameras);
    expect(two.shape).toEqual([2, 5, 48, 64]);
    expect(two.metadata.ome?.channels.map((c) => c.name)).toEqual(["HamCam1 488nm", "HamCam2 561nm"]);
  });

  it("maps page-aligned planes (the writer aligns planes of 1 MiB) instead of copying them; writes to the result stay private", async () => {
    const mapped = () => readFileSync("/proc/self/maps", "utf8").split("\n").filter((l) => l.endsWith(files.aligned!)).length;
    const before = readFileSync(files.aligned!);
    const volume = await readVolumeFile(files.aligned!);
    if (process.platform === "linux") expect(mapped()).toBeGreaterThanOrEqual(3);
    volume.data.fill(0);
    expect(readFileSync(files.aligned!).equals(before)).toBe(true);
    expect((await readVolumeFile(files.aligned!)).data.some((v) => v !== 0)).toBe(true);
  });

  it("reads a file another program wrote (same pixels, Software not gently) through geotiff, with the same result", async () => {
    const foreign = foreignCopy(files.twoCameras);
    expect(await isWriterLayout(foreign)).toBe(false);
    expectSame(await readVolumeFile(foreign), await readVolumeFile(files.twoCameras));
  });

  it("reads one slice or a sub-volume, the same as cutting them from the whole volume, from our files and foreign ones", async () => {
    const whole = await readWithGeotiff(files.twoCameras);
    const [, sizeZ, height, width] = whole.shape as [number, number, number, number];
    const cut = (c: number, z: [number, number], y: [number, number], x: [number, number]) => {
      const out = new Uint16Array((z[1] - z[0]) * (y[1] - y[0]) * (x[1] - x[0]));
      let k = 0;
      for (let zi = z[0]; zi < z[1]; zi++)
        for (let yi = y[0]; yi < y[1]; yi++) for (let xi = x[0]; xi < x[1]; xi++) out[k++] = whole.data[((c * sizeZ + zi) * height + yi) * width + xi]!;
      return out;
    };
    for (const file of [files.twoCameras, foreignCopy(files.twoCameras)]) {
      const slice = await readVolumeRegion(file, { c: 1, z: [2, 3] });
      expect(slice.shape).toEqual([1, 48, 64]);
      expect(slice.data).toEqual(cut(1, [2, 3], [0, 48], [0, 64]));
      // rows 5..19 of planes 1..3: whole rows, one read per plane
      expect((await readVolumeRegion(file, { z: [1, 4], y: [5, 20] })).data).toEqual(cut(0, [1, 4], [5, 20], [0, 64]));
      const sub = await readVolumeRegion(file, { c: 1, z: [1, 4], y: [5, 20], x: [3, 40] });
      expect(sub.shape).toEqual([3, 15, 37]);
      expect(sub.data).toEqual(cut(1, [1, 4], [5, 20], [3, 40]));
    }
  });

  it("refuses a region off the volume naming the range and the volume's size", async () => {
    const refusal = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e as GentlyError);
    const z = await refusal(readVolumeRegion(files.twoCameras, { z: [4, 6] }));
    expect(z).toBeInstanceOf(GentlyError);
    expect(z).toMatchObject({ code: "invalid_request", field: "z", message: "z range [4, 6) is not inside this volume's 0 to 5 (start < end, end exclusive)" });
    expect(await refusal(readVolumeRegion(files.twoCameras, { c: 2 }))).toMatchObject({ field: "c", message: "c 2 is not a channel of this volume (0 to 1)" });
    expect(await refusal(readVolumeRegion(files.u8, { x: [10, 10] }))).toMatchObject({ field: "x" });
    expect(await refusal(readVolumeFile(path.join(dir, "missing.tif")))).toMatchObject({ code: "not_found" });
  });
});
