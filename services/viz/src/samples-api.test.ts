import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeSampleVolume } from "@gently/datastore";
import { newUid, type VolumeWritten } from "@gently/protocol";
import { startVizHarness, type VizHarness } from "../test/harness";

const W = 64;
const H = 32;
const Z = 5;
/** A known value at every (c, x, y, z): 1000·c + 100·z + 2·x + y, so every sample says where it is. */
const valueAt = (c: number, x: number, y: number, z: number) => 1000 * c + 100 * z + 2 * x + y;
const plane = (c: number, z: number) => {
  const p = new Uint16Array(W * H);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) p[y * W + x] = valueAt(c, x, y, z);
  return p;
};

async function samples(h: VizHarness, url: string) {
  const res = await fetch(h.base + url);
  const body = new Uint8Array(await res.arrayBuffer());
  return {
    status: res.status,
    width: Number(res.headers.get("X-Gently-Width")),
    height: Number(res.headers.get("X-Gently-Height")),
    dtype: res.headers.get("X-Gently-Dtype"),
    values: new Uint16Array(body.buffer, body.byteOffset, body.byteLength >> 1),
    error: res.ok ? null : (JSON.parse(Buffer.from(body).toString("utf8")) as { error: { message: string; field: string } }).error,
  };
}

describe("viz raw samples for the viewer (real viz process, real OME-TIFF)", () => {
  let h: VizHarness;
  let volume: VolumeWritten;

  beforeAll(async () => {
    h = await startVizHarness({ indexer: false });
    volume = await writeSampleVolume(h.storage, { size_x: W, size_y: H, size_z: Z, size_c: 2, plane });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it("serves a plane of either channel as its stored 16-bit values", async () => {
    for (const c of [0, 1]) {
      const s = await samples(h, `/api/images/${volume.uid}/slice/3.bin?c=${c}`);
      expect([s.status, s.width, s.height, s.dtype]).toEqual([200, W, H, "uint16"]);
      expect(s.values[7 * W + 40]).toBe(valueAt(c, 40, 7, 3));
      expect(Array.from(s.values)).toEqual(Array.from(plane(c, 3)));
    }
  });

  it("serves the MIP, the XZ section at a row and the YZ section at a column", async () => {
    const mip = await samples(h, `/api/images/${volume.uid}/mip.bin?c=1`);
    expect([mip.width, mip.height]).toEqual([W, H]);
    expect(mip.values[5 * W + 9]).toBe(valueAt(1, 9, 5, Z - 1));

    const xz = await samples(h, `/api/images/${volume.uid}/xz/11.bin`);
    expect([xz.width, xz.height]).toEqual([W, Z]);
    for (let z = 0; z < Z; z++) for (const x of [0, 31, W - 1]) expect(xz.values[z * W + x]).toBe(valueAt(0, x, 11, z));

    const yz = await samples(h, `/api/images/${volume.uid}/yz/50.bin?c=1`);
    expect([yz.width, yz.height]).toEqual([Z, H]);
    for (let z = 0; z < Z; z++) for (const y of [0, 17, H - 1]) expect(yz.values[y * Z + z]).toBe(valueAt(1, 50, y, z));
  });

  it("says each slice's z in µm as the file records it, for the viewer's z slider", async () => {
    const res = await fetch(`${h.base}/api/images/${volume.uid}`);
    const meta = (await res.json()) as { plane_z_um: number[] };
    // writeSampleVolume's focus stage is at z 50 µm, its slices 1.5 µm apart
    expect(meta.plane_z_um).toEqual(Array.from({ length: Z }, (_, z) => 50 + 1.5 * z));
  });

  it("refuses planes, rows, columns and channels outside the volume, naming the parameter and its limit", async () => {
    const cases: [string, string, string][] = [
      [`slice/${Z}.bin`, "z", `[0, ${Z - 1}]`],
      ["slice/1.bin?c=2", "c", "[0, 1]"],
      [`xz/${H}.bin`, "y", `[0, ${H - 1}]`],
      [`yz/${W}.bin`, "x", `[0, ${W - 1}]`],
      ["yz/-1.bin", "x", "[0, 65535]"],
      ["mip.bin?bin=2", "bin", "unknown parameter"],
    ];
    for (const [path, field, limit] of cases) {
      const s = await samples(h, `/api/images/${volume.uid}/${path}`);
      expect(s.status, path).toBe(400);
      expect(s.error?.field, path).toBe(field);
      expect(s.error?.message, path).toContain(limit);
    }
    expect((await samples(h, `/api/images/${newUid()}/slice/0.bin`)).status).toBe(404);
  });
});
