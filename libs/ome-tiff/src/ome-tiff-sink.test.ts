import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readdir, readFile, stat, writeFile, open as fsOpen } from "node:fs/promises";
import { join } from "node:path";
import { xxh3 } from "@node-rs/xxhash";
import { describe, expect, it } from "vitest";
import { computeChecksum, verifyChecksum } from "./checksum";
import { SinkError } from "./errors";
import { scanLeftovers } from "./leftovers";
import { parseVolumeMeta } from "./meta";
import { createOmeTiffSink, OmeTiffSink } from "./ome-tiff-sink";
import { readOmeMetadata } from "./read";
import type { SinkFileHandle } from "./sequential-writer";
import { cachedPagesOf, pageCacheIsObservable, planeData, readPlanesWithGeotiff, sampleMeta, withTempDir } from "./test-support";
import { childrenNamed, firstChild, parseXml } from "./xml";

/** Python's tifffile, an independent reader (Debian python3-tifffile), where installed. */
const hasTifffile = (() => {
  try {
    execFileSync("/usr/bin/python3", ["-c", "import tifffile"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

async function expectSinkError(p: Promise<unknown>, code: string): Promise<SinkError> {
  const err = await p.then(
    () => {
      throw new Error(`expected SinkError ${code}, but it resolved`);
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SinkError);
  expect((err as SinkError).code).toBe(code);
  return err as SinkError;
}

describe("OME-TIFF sink: pixels", () => {
  it("writes uint16 planes that geotiff reads back byte-exact, and leaves only the final file", async () => {
    await withTempDir(async (dir) => {
      const finalPath = join(dir, "embryo_0001.ome.tif");
      const meta = sampleMeta();
      const sink = await createOmeTiffSink({ finalPath, meta });
      expect(sink.bigTiff).toBe(false);
      const planes = Array.from({ length: 5 }, (_, i) => planeData(64 * 48 * 2, i));
      for (const p of planes) await sink.appendPlane(new Uint16Array(p.buffer, p.byteOffset, p.length / 2));
      const result = await sink.finalize();

      expect(result).toMatchObject({ format: "ome-tiff", path: finalPath, shape: [5, 48, 64], axes: "ZYX", dtype: "uint16", bigTiff: false, planes: 5 });
      expect(result.bytes).toBe((await stat(finalPath)).size);
      expect(await readdir(dir)).toEqual(["embryo_0001.ome.tif"]);

      const read = await readPlanesWithGeotiff(finalPath);
      expect(read.count).toBe(5);
      planes.forEach((p, i) => expect(read.planes.get(i)!.equals(p), `plane ${i}`).toBe(true));
    });
  });

  it("writes uint8 planes with an odd byte count and several strips per plane", async () => {
    await withTempDir(async (dir) => {
      const finalPath = join(dir, "u8.ome.tif");
      const meta = sampleMeta({ dtype: "uint8", size_x: 33, size_y: 17, size_z: 3 });
      const sink = await createOmeTiffSink({ finalPath, meta, rowsPerStrip: 5 });
      const planes = Array.from({ length: 3 }, (_, i) => planeData(33 * 17, i));
      for (const p of planes) await sink.appendPlane(p);
      const result = await sink.finalize();
      expect(result.dtype).toBe("uint8");

      const read = await readPlanesWithGeotiff(finalPath);
      expect(read.count).toBe(3);
      planes.forEach((p, i) => expect(read.planes.get(i)!.equals(p), `plane ${i}`).toBe(true));
    });
  });

  it("passes planes larger than the staging buffer straight through, still byte-exact", async () => {
    await withTempDir(async (dir) => {
      const finalPath = join(dir, "large.ome.tif");
      const meta = sampleMeta({ size_x: 1536, size_y: 1400, size_z: 3 }); // 4.1 MiB per plane
      const sink = await createOmeTiffSink({ finalPath, meta });
      const planes = Array.from({ length: 3 }, (_, i) => planeData(1536 * 1400 * 2, i));
      for (const p of planes) await sink.appendPlane(p);
      await sink.finalize();
      const read = await readPlanesWithGeotiff(finalPath);
      planes.forEach((p, i) => expect(read.planes.get(i)!.equals(p), `plane ${i}`).toBe(true));
    });
  });

  it("keeps append order when callers do not await each appendPlane", async () => {
    await withTempDir(async (dir) => {
      const finalPath = join(dir, "burst.ome.tif");
      const sink = await createOmeTiffSink({ finalPath, meta: sampleMeta({ size_z: 8 }) });
      const planes = Array.from({ length: 8 }, (_, i) => planeData(64 * 48 * 2, i));
      const pending = planes.map((p) => sink.appendPlane(p));
      const finalized = sink.finalize();
      await Promise.all(pending);
      await finalized;
      const read = await readPlanesWithGeotiff(finalPath);
      planes.forEach((p, i) => expect(read.planes.get(i)!.equals(p), `plane ${i}`).toBe(true));
    });
  });
});

describe("OME-TIFF sink: plane layout and streaming to disk", () => {
  // 1024×512 uint16 = 1 MiB planes: the smallest that skip the staging buffer, a multiple of 4096.
  const meta = sampleMeta({ size_x: 1024, size_y: 512, size_z: 3 });
  const planeBytes = 1024 * 512 * 2;
  const planes = Array.from({ length: 3 }, (_, i) => planeData(planeBytes, i));

  it("starts full planes at 4096-aligned offsets, classic and BigTIFF, that geotiff reads byte-exact", async () => {
    await withTempDir(async (dir) => {
      for (const forceBigTiff of [false, true]) {
        const finalPath = join(dir, `aligned-${forceBigTiff}.ome.tif`);
        const sink = await createOmeTiffSink({ finalPath, meta, forceBigTiff });
        // Not awaited one by one: the sink queues them and writes them in order.
        await Promise.all(planes.map((p) => sink.appendPlane(p)));
        const result = await sink.finalize();
        expect(result.bytes).toBe((await stat(finalPath)).size);
        expect((await verifyChecksum(finalPath, result.checksum)).ok).toBe(true);

        const file = await readFile(finalPath);
        planes.forEach((p, i) => {
          const at = file.indexOf(p.subarray(0, 64));
          expect(at % 4096, `plane ${i} offset`).toBe(0);
        });
        const read = await readPlanesWithGeotiff(finalPath);
        expect(read.count).toBe(3);
        planes.forEach((p, i) => expect(read.planes.get(i)!.equals(p), `plane ${i}`).toBe(true));
        expect((await readOmeMetadata(finalPath)).meta?.uid).toBe("vol_7Hq2x");
      }
    });
  });

  it("packs planes back to back without padding when asked", async () => {
    await withTempDir(async (dir) => {
      const padded = await createOmeTiffSink({ finalPath: join(dir, "padded.ome.tif"), meta });
      const packed = await createOmeTiffSink({ finalPath: join(dir, "packed.ome.tif"), meta, alignPlanes: false });
      for (const p of planes) {
        await padded.appendPlane(p);
        await packed.appendPlane(p);
      }
      const [a, b] = [await padded.finalize(), await packed.finalize()];
      expect(b.bytes).toBeLessThan(a.bytes);
      expect(a.bytes - b.bytes).toBeLessThan(3 * 4096);
      const read = await readPlanesWithGeotiff(b.path);
      planes.forEach((p, i) => expect(read.planes.get(i)!.equals(p), `plane ${i}`).toBe(true));
    });
  });

  it.skipIf(!pageCacheIsObservable)("keeps only a bounded stretch of a growing volume in the page cache; without streaming the whole file stays there", async () => {
    await withTempDir(async (dir) => {
      // 48 planes of 1 MiB through a 4 MiB window: at most ~2 windows may stay cached while writing.
      const big = sampleMeta({ size_x: 1024, size_y: 512, size_z: 48 });
      const frames = Array.from({ length: 4 }, (_, i) => planeData(planeBytes, i));
      const window = 4 << 20;
      const cachedWhileOpen = async (writebackWindowBytes: number): Promise<{ cachedBytes: number; path: string; checksumOk: boolean }> => {
        const sink = await createOmeTiffSink({ finalPath: join(dir, `stream-${writebackWindowBytes}.ome.tif`), meta: big, writebackWindowBytes });
        for (let z = 0; z < 48; z++) {
          await sink.appendPlane(frames[z % frames.length]);
          expect(sink.unconfirmedBytes).toBeLessThan(2 * window + planeBytes + 4096);
        }
        const cachedBytes = cachedPagesOf(sink.tempPath!) * 4096;
        const result = await sink.finalize();
        return { cachedBytes, path: result.path, checksumOk: (await verifyChecksum(result.path, result.checksum)).ok };
      };
      const streamed = await cachedWhileOpen(window);
      const plain = await cachedWhileOpen(0);
      expect(plain.cachedBytes).toBeGreaterThan(40 << 20);
      expect(streamed.cachedBytes).toBeLessThan(3 * window);
      for (const run of [streamed, plain]) {
        expect(run.checksumOk).toBe(true);
        const read = await readPlanesWithGeotiff(run.path);
        expect(read.count).toBe(48);
        expect(read.planes.get(45)!.equals(frames[45 % frames.length])).toBe(true);
      }
    });
  });
});

describe("OME-TIFF sink: OME-XML", () => {
  it("states sizes, physical sizes, channels, TiffData, planes and gently's annotation in the first IFD", async () => {
    await withTempDir(async (dir) => {
      const finalPath = join(dir, "meta.ome.tif");
      const meta = sampleMeta({ plan_name: `stack <A&B> "µ" 'q'`, extra: { note: "tip & tilt < 1°" } });
      const sink = await createOmeTiffSink({ finalPath, meta });
      for (let i = 0; i < 5; i++) await sink.appendPlane(planeData(64 * 48 * 2, i));
      await sink.finalize();

      // geotiff extracts the description independently of this library's TIFF reader.
      const { description: raw } = await readPlanesWithGeotiff(finalPath, []);
      expect(raw).toBeDefined();
      const description = raw!.replace(/\0$/, ""); // geotiff keeps the ASCII NUL terminator
      expect(/^[\x09\x0a\x0d\x20-\x7e]*$/.test(description)).toBe(true); // TIFF ASCII is 7-bit
      const ome = parseXml(description);
      expect(ome.name).toBe("OME");
      const image = firstChild(ome, "Image")!;
      expect(firstChild(image, "AcquisitionDate")!.text).toBe("2024-05-01T10:15:30.250Z");
      const pixels = firstChild(image, "Pixels")!;
      expect(pixels.attrs).toMatchObject({
        DimensionOrder: "XYZCT",
        Type: "uint16",
        SizeX: "64",
        SizeY: "48",
        SizeZ: "5",
        SizeC: "1",
        SizeT: "1",
        PhysicalSizeX: "0.1625",
        PhysicalSizeY: "0.1625",
        PhysicalSizeZ: "1.5",
        PhysicalSizeXUnit: "µm",
        PhysicalSizeZUnit: "µm",
      });
      expect(childrenNamed(pixels, "Channel").map((c) => c.attrs.Name)).toEqual(["camA 488nm"]);
      expect(childrenNamed(pixels, "TiffData").map((t) => t.attrs)).toEqual([{ IFD: "0", FirstZ: "0", FirstC: "0", FirstT: "0", PlaneCount: "5" }]);
      const planes = childrenNamed(pixels, "Plane");
      expect(planes).toHaveLength(5);
      expect(planes[3].attrs).toMatchObject({ TheZ: "3", PositionX: "1200.5", PositionY: "-340.25", PositionZ: "54.5", ExposureTime: "10", ExposureTimeUnit: "ms" });
      const map = firstChild(firstChild(ome, "StructuredAnnotations")!, "MapAnnotation")!;
      const kv = new Map(childrenNamed(firstChild(map, "Value")!, "M").map((m) => [m.attrs.K, m.text]));
      expect(kv.get("uid")).toBe("vol_7Hq2x");
      expect(kv.get("plan_name")).toBe(`stack <A&B> "µ" 'q'`);
      expect(JSON.parse(kv.get("stage_position_um")!)).toEqual({ x_um: 1200.5, y_um: -340.25, z_um: 50 });
    });
  });

  it("lets a rebuild recover the full volume metadata from the file alone", async () => {
    await withTempDir(async (dir) => {
      const finalPath = join(dir, "rebuild.ome.tif");
      const input = sampleMeta({ extra: { sample: "C. elegans #4", note: "a\tb\nc" } });
      const sink = await createOmeTiffSink({ finalPath, meta: input });
      for (let i = 0; i < 5; i++) await sink.appendPlane(planeData(64 * 48 * 2, i));
      await sink.finalize();

      const read = await readOmeMetadata(finalPath);
      expect(read.bigTiff).toBe(false);
      expect(read.meta).toEqual(parseVolumeMeta(input));
      expect(read.pixels).toEqual({
        dimensionOrder: "XYZCT",
        type: "uint16",
        sizeX: 64,
        sizeY: 48,
        sizeZ: 5,
        sizeC: 1,
        sizeT: 1,
        physicalSizeX_um: 0.1625,
        physicalSizeY_um: 0.1625,
        physicalSizeZ_um: 1.5,
      });
      expect(read.planes[4]).toEqual({ theZ: 4, theC: 0, theT: 0, exposure_ms: 10, position_x_um: 1200.5, position_y_um: -340.25, position_z_um: 56 });
    });
  });

  it("stores two cameras as two channels of one file, interleaved per z with XYCZT", async () => {
    await withTempDir(async (dir) => {
      const finalPath = join(dir, "dual.ome.tif");
      const meta = sampleMeta({
        size_z: 3,
        size_c: 2,
        dimension_order: "XYCZT",
        channels: [
          { camera: "camA", laser: "488nm", exposure_ms: 10 },
          { camera: "camB", laser: "561nm", exposure_ms: 20 },
        ],
      });
      const sink = await createOmeTiffSink({ finalPath, meta });
      // Arrival order of two simultaneous cameras: z0 camA, z0 camB, z1 camA, ...
      const planes = Array.from({ length: 6 }, (_, i) => planeData(64 * 48 * 2, i));
      for (const p of planes) await sink.appendPlane(p);
      const result = await sink.finalize();
      expect(result.shape).toEqual([3, 2, 48, 64]);
      expect(result.axes).toBe("ZCYX");

      const read = await readOmeMetadata(finalPath);
      expect(read.pixels).toMatchObject({ dimensionOrder: "XYCZT", sizeZ: 3, sizeC: 2 });
      expect(read.channels.map((c) => c.name)).toEqual(["camA 488nm", "camB 561nm"]);
      // Every IFD is mapped explicitly, so readers need not infer the interleave.
      expect(read.tiffData).toEqual(Array.from({ length: 6 }, (_, i) => ({ ifd: i, firstZ: i >> 1, firstC: i & 1, firstT: 0, planeCount: 1 })));
      expect(read.planes.filter((p) => p.theC === 1).map((p) => p.exposure_ms)).toEqual([20, 20, 20]);

      const pixels = await readPlanesWithGeotiff(finalPath);
      for (const t of read.tiffData) expect(pixels.planes.get(t.ifd)!.equals(planes[t.firstZ * 2 + t.firstC])).toBe(true);
    });
  });
});

describe("OME-TIFF sink: per-plane positions", () => {
  it("records each plane's piezo (PositionZ), DeltaT and galvo as given at append, not the sweep's planned ones; the partial already names its volume", async () => {
    await withTempDir(async (dir) => {
      const finalPath = join(dir, "measured.ome.tif");
      const meta = sampleMeta({
        size_z: 3,
        size_c: 2,
        dimension_order: "XYCZT",
        channels: [
          { camera: "camA", laser: "488nm", excitation_nm: 488 },
          { camera: "camB", laser: "488nm", excitation_nm: 488 },
        ],
        sheet_sweep: { piezo_start_um: 40, piezo_step_um: 2, galvo_start_deg: -0.2, galvo_step_deg: 0.04, mode: "stepped" },
        plane_positions: "measured",
        laser_config: [{ wavelength_nm: 488, power_mw: 50, power_pct: 5, enabled: true }],
      });
      const sink = await createOmeTiffSink({ finalPath, meta });
      // The partial's XML (written at open) is readable and has the planned positions.
      const partial = await readOmeMetadata(sink.tempPath!);
      expect(partial.meta?.run_uid).toBe("run_aa01");
      expect(partial.planes.map((p) => p.position_z_um)).toEqual([40, 40, 42, 42, 44, 44]);
      expect(partial.planeGalvoDeg).toBeUndefined();

      const planes = Array.from({ length: 6 }, (_, i) => planeData(64 * 48 * 2, i));
      // Measured: the piezo lands 0.3 µm past each target, the galvo a little off, 10 ms per slice.
      const measured = [0, 1, 2].map((z) => ({ piezo_um: 40.3 + 2 * z, galvo_deg: -0.2 + 0.04 * z + 0.0013, timestamp_us: 1_700_000_000_000_000 + z * 10_000 }));
      for (let i = 0; i < 6; i++) await sink.appendPlane(planes[i], { ...measured[i >> 1], timestamp_us: measured[i >> 1].timestamp_us + (i & 1) * 7 });
      const result = await sink.finalize();

      const read = await readOmeMetadata(finalPath);
      expect(read.planes.map((p) => p.position_z_um)).toEqual([40.3, 40.3, 42.3, 42.3, 44.3, 44.3]);
      expect(read.planes.map((p) => p.delta_t_ms)).toEqual([0, 0.007, 10, 10.007, 20, 20.007]);
      expect(read.planes.map((p) => [p.position_x_um, p.position_y_um])).toEqual(Array(6).fill([1200.5, -340.25]));
      expect(read.planeGalvoDeg).toEqual([-0.1987, -0.1987, -0.1587, -0.1587, -0.1187, -0.1187]);
      expect(read.meta?.plane_positions).toBe("measured");
      expect(read.meta?.sheet_sweep?.mode).toBe("stepped");
      const pixelsEl = firstChild(firstChild(parseXml(read.xml), "Image")!, "Pixels")!;
      expect(childrenNamed(pixelsEl, "Channel").map((c) => [c.attrs.ExcitationWavelength, c.attrs.ExcitationWavelengthUnit])).toEqual([
        ["488", "nm"],
        ["488", "nm"],
      ]);
      // The line as the instrument's laser, each channel lit by it at 5 % of its power.
      const instrument = firstChild(parseXml(read.xml), "Instrument")!;
      expect(childrenNamed(instrument, "Laser").map((l) => l.attrs)).toEqual([
        { ID: "LightSource:0:488", Power: "50", PowerUnit: "mW", Wavelength: "488", WavelengthUnit: "nm" },
      ]);
      expect(firstChild(firstChild(parseXml(read.xml), "Image")!, "InstrumentRef")!.attrs.ID).toBe(instrument.attrs.ID);
      expect(childrenNamed(pixelsEl, "Channel").map((c) => firstChild(c, "LightSourceSettings")!.attrs)).toEqual([
        { ID: "LightSource:0:488", Attenuation: "0.95" },
        { ID: "LightSource:0:488", Attenuation: "0.95" },
      ]);
      // The same document (UUID) as the partial's, now with the recorded values.
      expect(parseXml(read.xml).attrs.UUID).toBe(parseXml(partial.xml).attrs.UUID);

      const pixels = await readPlanesWithGeotiff(finalPath);
      for (let i = 0; i < 6; i++) expect(pixels.planes.get(i)!.equals(planes[i])).toBe(true);
      const bytes = await readFile(finalPath);
      expect(bytes.length).toBe(result.bytes);
      expect(result.checksum.hex).toBe(xxh3.xxh64(bytes).toString(16).padStart(16, "0"));
    });
  });

  it("without the XML written ahead (Windows' default) the partial grows with its planes only, and the final file is the same", async () => {
    await withTempDir(async (dir) => {
      const files: Buffer[] = [];
      for (const prewriteDescription of [false, true]) {
        const finalPath = join(dir, `prewrite-${prewriteDescription}.ome.tif`);
        const sink = new OmeTiffSink({ finalPath, prewriteDescription });
        await sink.open(sampleMeta({ size_z: 2, plane_positions: "measured" }));
        const partialBytes = (await stat(sink.tempPath!)).size;
        if (prewriteDescription) expect(partialBytes).toBe(sink.plannedBytes);
        else {
          expect(partialBytes).toBeLessThan(sink.plannedBytes! - 64 * 48 * 2 * 2);
          await expectSinkError(readOmeMetadata(sink.tempPath!), "bad_file");
        }
        for (let i = 0; i < 2; i++) await sink.appendPlane(planeData(64 * 48 * 2, i), { piezo_um: i, galvo_deg: 0 });
        const { checksum } = await sink.finalize();
        expect((await verifyChecksum(finalPath, checksum)).ok).toBe(true);
        files.push(await readFile(finalPath));
      }
      // Same bytes but for the OME document's UUID (36 characters).
      expect(files[0].length).toBe(files[1].length);
      expect([...files[0]].filter((b, i) => b !== files[1][i]).length).toBeLessThanOrEqual(36);
    });
  });

  it.skipIf(!hasTifffile)("writes files that Python's tifffile reads: the OME series' shape, every plane byte-exact, the recorded PositionZ", async () => {
    await withTempDir(async (dir) => {
      const finalPath = join(dir, "tifffile.ome.tif");
      const meta = sampleMeta({
        size_x: 512,
        size_y: 256,
        size_z: 4,
        size_c: 2,
        dimension_order: "XYCZT",
        channels: [
          { camera: "camA", laser: "488nm", excitation_nm: 488 },
          { camera: "camB", laser: "488nm", excitation_nm: 488 },
        ],
        plane_positions: "measured",
      });
      const sink = await createOmeTiffSink({ finalPath, meta });
      const planes = Array.from({ length: 8 }, (_, i) => planeData(512 * 256 * 2, i));
      for (let i = 0; i < 8; i++) await sink.appendPlane(planes[i], { piezo_um: 10.25 + (i >> 1), galvo_deg: 0.5 });
      await sink.finalize();
      const script = [
        "import sys, hashlib, tifffile, xml.etree.ElementTree as ET",
        "with tifffile.TiffFile(sys.argv[1]) as t:",
        "    assert t.is_ome",
        "    s = t.series[0]",
        "    a = s.asarray()",
        "    print(s.axes, ','.join(map(str, a.shape)))",
        "    for z in range(a.shape[0]):",
        "        for c in range(a.shape[1]):",
        "            print(hashlib.sha256(a[z, c].astype('<u2').tobytes()).hexdigest())",
        "    ns = '{http://www.openmicroscopy.org/Schemas/OME/2016-06}'",
        "    print(' '.join(p.get('PositionZ') for p in ET.fromstring(t.ome_metadata).iter(ns + 'Plane')))",
      ].join("\n");
      const out = execFileSync("/usr/bin/python3", ["-c", script, finalPath], { encoding: "utf8" }).trim().split("\n");
      expect(out[0]).toBe("ZCYX 4,2,256,512");
      const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
      expect(out.slice(1, 9)).toEqual(planes.map(sha));
      expect(out[9]).toBe("10.25 10.25 11.25 11.25 12.25 12.25 13.25 13.25");
    });
  });
});

describe("OME-TIFF sink: BigTIFF", () => {
  it("writes BigTIFF (magic 43) on request that geotiff and readOmeMetadata both read", async () => {
    await withTempDir(async (dir) => {
      const finalPath = join(dir, "big.ome.tif");
      const sink = await createOmeTiffSink({ finalPath, meta: sampleMeta({ size_z: 4 }), forceBigTiff: true, rowsPerStrip: 7 });
      expect(sink.bigTiff).toBe(true);
      const planes = Array.from({ length: 4 }, (_, i) => planeData(64 * 48 * 2, i));
      for (const p of planes) await sink.appendPlane(p);
      const result = await sink.finalize();
      expect(result.bigTiff).toBe(true);

      const head = (await readFile(finalPath)).subarray(0, 16);
      expect(head.toString("latin1", 0, 2)).toBe("II");
      expect(head.readUInt16LE(2)).toBe(43);
      expect(head.readUInt16LE(4)).toBe(8);

      const read = await readPlanesWithGeotiff(finalPath);
      expect(read.count).toBe(4);
      planes.forEach((p, i) => expect(read.planes.get(i)!.equals(p), `plane ${i}`).toBe(true));
      const meta = await readOmeMetadata(finalPath);
      expect(meta.bigTiff).toBe(true);
      expect(meta.meta?.uid).toBe("vol_7Hq2x");
    });
  });

  it.runIf(process.env.GENTLY_TEST_BIG === "1")(
    "switches to BigTIFF by itself for a volume over 4 GiB and stays readable (GENTLY_TEST_BIG=1)",
    async () => {
      await withTempDir(async (dir) => {
        const finalPath = join(dir, "huge.ome.tif");
        // 2048×2048 uint16 = 8 MiB per plane; 520 planes ≈ 4.06 GiB.
        const meta = sampleMeta({ size_x: 2048, size_y: 2048, size_z: 520 });
        const sink = await createOmeTiffSink({ finalPath, meta });
        expect(sink.bigTiff).toBe(true);
        const first = planeData(2048 * 2048 * 2, 1);
        const zeros = Buffer.alloc(2048 * 2048 * 2);
        const last = planeData(2048 * 2048 * 2, 2);
        for (let z = 0; z < 520; z++) await sink.appendPlane(z === 0 ? first : z === 519 ? last : zeros);
        const result = await sink.finalize();
        expect(result.bytes).toBeGreaterThan(2 ** 32);
        expect((await stat(finalPath)).size).toBe(result.bytes);

        const read = await readPlanesWithGeotiff(finalPath, [0, 519]);
        expect(read.count).toBe(520);
        expect(read.planes.get(0)!.equals(first)).toBe(true);
        expect(read.planes.get(519)!.equals(last)).toBe(true);
        expect((await readOmeMetadata(finalPath)).pixels.sizeZ).toBe(520);
        expect((await verifyChecksum(finalPath, result.checksum)).ok).toBe(true);
      });
    },
    600_000,
  );
});

describe("OME-TIFF sink: checksum", () => {
  it("reports xxh3-64 of the whole final file, which verifyChecksum confirms and a flipped byte breaks", async () => {
    await withTempDir(async (dir) => {
      const finalPath = join(dir, "sum.ome.tif");
      const sink = await createOmeTiffSink({ finalPath, meta: sampleMeta() });
      for (let i = 0; i < 5; i++) await sink.appendPlane(planeData(64 * 48 * 2, i));
      const { checksum } = await sink.finalize();

      const bytes = await readFile(finalPath);
      expect(checksum.algorithm).toBe("xxh3-64");
      expect(checksum.hex).toBe(xxh3.xxh64(bytes).toString(16).padStart(16, "0"));
      expect(await computeChecksum(finalPath)).toEqual(checksum);
      expect((await verifyChecksum(finalPath, checksum)).ok).toBe(true);

      const fh = await fsOpen(finalPath, "r+");
      const at = bytes.length - 100;
      await fh.write(Buffer.from([bytes[at] ^ 0xff]), 0, 1, at);
      await fh.close();
      const verdict = await verifyChecksum(finalPath, checksum);
      expect(verdict.ok).toBe(false);
      expect(verdict.actual.hex).not.toBe(checksum.hex);
    });
  });
});

describe("OME-TIFF sink: abort and leftovers", () => {
  it("abort() deletes the partial file and never creates the final one", async () => {
    await withTempDir(async (dir) => {
      const finalPath = join(dir, "aborted.ome.tif");
      const sink = await createOmeTiffSink({ finalPath, meta: sampleMeta() });
      await sink.appendPlane(planeData(64 * 48 * 2, 0));
      expect(await readdir(dir)).toEqual([".vol_7Hq2x.aborted.ome.tif.partial"]);
      await sink.abort();
      expect(await readdir(dir)).toEqual([]);
      await expectSinkError(sink.appendPlane(planeData(64 * 48 * 2, 1)), "bad_state");
    });
  });

  it("abort({keep:true}) leaves a partial that scanLeftovers reports and whose metadata is readable", async () => {
    await withTempDir(async (dir) => {
      const finalPath = join(dir, "kept.ome.tif");
      const sink = await createOmeTiffSink({ finalPath, meta: sampleMeta() });
      await sink.appendPlane(planeData(64 * 48 * 2, 0));
      await sink.appendPlane(planeData(64 * 48 * 2, 1));
      await sink.abort({ keep: true });

      const leftovers = await scanLeftovers(dir);
      expect(leftovers).toHaveLength(1);
      expect(leftovers[0]).toMatchObject({ path: sink.tempPath, uid: "vol_7Hq2x", finalName: "kept.ome.tif" });
      expect(leftovers[0].bytes).toBe((await stat(sink.tempPath!)).size);
      expect(leftovers[0].bytes).toBeGreaterThanOrEqual(2 * 64 * 48 * 2);
      expect((await readOmeMetadata(leftovers[0].path)).meta?.run_uid).toBe("run_aa01");
      await expect(stat(finalPath)).rejects.toMatchObject({ code: "ENOENT" });
    });
  });

  it("ignores finished files and foreign dot-files when scanning for leftovers", async () => {
    await withTempDir(async (dir) => {
      await writeFile(join(dir, "done.ome.tif"), "x");
      await writeFile(join(dir, ".DS_Store"), "x");
      await writeFile(join(dir, ".no-uid.partial"), "x");
      await writeFile(join(dir, ".abc.x.tif.partial"), "12345");
      const found = await scanLeftovers(dir);
      expect(found.map((f) => [f.uid, f.finalName, f.bytes])).toEqual([["abc", "x.tif", 5]]);
    });
  });
});

describe("OME-TIFF sink: refusals and errors", () => {
  it("refuses a plane of the wrong size, naming expected and actual bytes, and stays usable", async () => {
    await withTempDir(async (dir) => {
      const finalPath = join(dir, "sizes.ome.tif");
      const sink = await createOmeTiffSink({ finalPath, meta: sampleMeta({ size_z: 1 }) });
      const err = await expectSinkError(sink.appendPlane(new Uint8Array(100)), "bad_plane");
      expect(err.message).toContain("100 bytes");
      expect(err.message).toContain("expected 6144");
      await sink.appendPlane(planeData(64 * 48 * 2, 0));
      await expectSinkError(sink.appendPlane(planeData(64 * 48 * 2, 1)), "plane_count");
      await sink.finalize();
      expect(await readdir(dir)).toEqual(["sizes.ome.tif"]);
    });
  });

  it("refuses finalize() before every planned plane arrived", async () => {
    await withTempDir(async (dir) => {
      const finalPath = join(dir, "short.ome.tif");
      const sink = await createOmeTiffSink({ finalPath, meta: sampleMeta() });
      await sink.appendPlane(planeData(64 * 48 * 2, 0));
      const err = await expectSinkError(sink.finalize(), "plane_count");
      expect(err.message).toContain("1 of 5");
      await sink.abort();
      expect(await readdir(dir)).toEqual([]);
    });
  });

  /** A disk that fills up: writes succeed (partially at the edge) until limitBytes, then ENOSPC. */
  function fillingDisk(limitBytes: number) {
    let written = 0;
    return async (path: string): Promise<SinkFileHandle> => {
      const fh = await fsOpen(path, "wx");
      return {
        async writev(buffers, position) {
          const room = limitBytes - written;
          if (room <= 0) throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
          const data = Buffer.concat(buffers).subarray(0, room);
          const { bytesWritten } = await fh.write(data, 0, data.length, position);
          written += bytesWritten;
          return { bytesWritten };
        },
        sync: () => fh.sync(),
        close: () => fh.close(),
      };
    };
  }

  it("turns ENOSPC in the middle of a volume into disk_full on the plane that hit it, and no final file appears", async () => {
    await withTempDir(async (dir) => {
      const finalPath = join(dir, "full.ome.tif");
      // 1.05 MiB planes go straight to the file, so the failing write belongs to the plane being appended.
      const meta = sampleMeta({ size_x: 640, size_y: 820, size_z: 5 });
      const planeBytes = 640 * 820 * 2;
      const sink = new OmeTiffSink({ finalPath, openFile: fillingDisk(Math.floor(2.5 * planeBytes)) });
      await sink.open(meta);
      await sink.appendPlane(planeData(planeBytes, 0));
      await sink.appendPlane(planeData(planeBytes, 1));
      const err = await expectSinkError(sink.appendPlane(planeData(planeBytes, 2)), "disk_full");
      expect(err.errno).toBe("ENOSPC");
      await expectSinkError(sink.appendPlane(planeData(planeBytes, 3)), "disk_full");
      await expectSinkError(sink.finalize(), "disk_full");
      await sink.abort();
      expect(await readdir(dir)).toEqual([]);
    });
  });

  it("reports ENOSPC hit while flushing staged small planes from finalize(), and no final file appears", async () => {
    await withTempDir(async (dir) => {
      const finalPath = join(dir, "full-small.ome.tif");
      const sink = new OmeTiffSink({ finalPath, openFile: fillingDisk(3 * 64 * 48 * 2) });
      await sink.open(sampleMeta());
      for (let i = 0; i < 5; i++) await sink.appendPlane(planeData(64 * 48 * 2, i));
      const err = await expectSinkError(sink.finalize(), "disk_full");
      expect(err.errno).toBe("ENOSPC");
      await sink.abort();
      expect(await readdir(dir)).toEqual([]);
    });
  });

  it("refuses at open a volume bigger than the maxBytes quota, creating nothing", async () => {
    await withTempDir(async (dir) => {
      const err = await expectSinkError(createOmeTiffSink({ finalPath: join(dir, "q.ome.tif"), meta: sampleMeta(), maxBytes: 20_000 }), "disk_full");
      expect(err.message).toContain("20000-byte quota");
      expect(await readdir(dir)).toEqual([]);
    });
  });

  it("refuses at open a volume the filesystem has no room for", async () => {
    await withTempDir(async (dir) => {
      // 8 GiB planes × 100000: more than any test machine's disk.
      const meta = sampleMeta({ size_x: 65536, size_y: 65536, size_z: 100_000 });
      await expectSinkError(createOmeTiffSink({ finalPath: join(dir, "huge.ome.tif"), meta }), "disk_full");
      expect(await readdir(dir)).toEqual([]);
    });
  });

  it("reports an unwritable directory as not_writable", async () => {
    await withTempDir(async (dir) => {
      const openFile = async (): Promise<SinkFileHandle> => {
        throw Object.assign(new Error("EROFS: read-only file system, open"), { code: "EROFS" });
      };
      await expectSinkError(createOmeTiffSink({ finalPath: join(dir, "ro.ome.tif"), meta: sampleMeta(), openFile }), "not_writable");
      expect(await readdir(dir)).toEqual([]);
    });
  });

  it.skipIf(process.getuid?.() === 0)("reports a real read-only directory as not_writable", async () => {
    await withTempDir(async (dir) => {
      const { chmod, mkdir } = await import("node:fs/promises");
      const ro = join(dir, "ro");
      await mkdir(ro);
      await chmod(ro, 0o555);
      await expectSinkError(createOmeTiffSink({ finalPath: join(ro, "x.ome.tif"), meta: sampleMeta() }), "not_writable");
      await chmod(ro, 0o755);
      expect(await readdir(ro)).toEqual([]);
    });
  });

  it("never overwrites an existing final file", async () => {
    await withTempDir(async (dir) => {
      const finalPath = join(dir, "exists.ome.tif");
      await writeFile(finalPath, "precious");
      await expectSinkError(createOmeTiffSink({ finalPath, meta: sampleMeta() }), "exists");
      expect(await readFile(finalPath, "utf8")).toBe("precious");
      expect(await readdir(dir)).toEqual(["exists.ome.tif"]);
    });
  });

  it("reports a missing directory as no_directory and invalid metadata as bad_meta", async () => {
    await withTempDir(async (dir) => {
      await expectSinkError(createOmeTiffSink({ finalPath: join(dir, "nope", "x.ome.tif"), meta: sampleMeta() }), "no_directory");
      const err = await expectSinkError(createOmeTiffSink({ finalPath: join(dir, "x.ome.tif"), meta: sampleMeta({ size_c: 2 }) }), "bad_meta");
      expect(err.message).toContain("expected 2 channels");
      await expectSinkError(createOmeTiffSink({ finalPath: join(dir, "x.ome.tif"), meta: sampleMeta({ uid: "has.dot" }) }), "bad_meta");
      expect(await readdir(dir)).toEqual([]);
    });
  });
});
