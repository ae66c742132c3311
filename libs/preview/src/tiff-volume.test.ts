import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createOmeTiffSink } from "@gently/ome-tiff";
import { tempStorage } from "@gently/testing";
import { TiffVolume } from "./tiff-volume";

const temp = tempStorage("gently-tiff-volume-");
afterAll(() => temp.remove());

const W = 24;
const H = 17;
const valueAt = (x: number, y: number, z: number) => 1000 * z + 30 * y + x;

/** A real OME-TIFF of 3 planes whose strips hold `rowsPerStrip` rows (the last strip fewer). */
async function volumeWithStrips(rowsPerStrip: number): Promise<string> {
  const finalPath = path.join(temp.dir, `strips-${rowsPerStrip}.tif`);
  const sink = await createOmeTiffSink({
    finalPath,
    checkFreeSpace: false,
    rowsPerStrip,
    meta: {
      uid: `strips${rowsPerStrip}`,
      session_id: "s",
      run_uid: "r",
      plan_name: "z_stack",
      dtype: "uint16",
      dimension_order: "XYZCT",
      size_x: W,
      size_y: H,
      size_z: 3,
      size_c: 1,
      pixel_size_um: 0.1625,
      z_step_um: 1,
      exposure_ms: 10,
      channels: [{ camera: "HamCam1", laser: "488 only" }],
      stage_position_um: { x_um: 0, y_um: 0, z_um: 0 },
      acquired_at: new Date().toISOString(),
    },
  });
  for (let z = 0; z < 3; z++) {
    const plane = new Uint16Array(W * H);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) plane[y * W + x] = valueAt(x, y, z);
    await sink.appendPlane(plane);
  }
  return (await sink.finalize()).path;
}

describe("TiffVolume.readRow", () => {
  for (const rowsPerStrip of [H, 5, 1]) {
    it(`reads any one row as readPlane has it (${rowsPerStrip} rows per strip)`, async () => {
      const volume = await TiffVolume.open(await volumeWithStrips(rowsPerStrip));
      try {
        for (const z of [0, 2]) {
          const plane = await volume.readPlane(0, z);
          for (const y of [0, 4, 5, 9, H - 1]) {
            const row = await volume.readRow(0, z, y);
            expect(Array.from(row)).toEqual(Array.from(plane.subarray(y * W, (y + 1) * W)));
            expect(row[7]).toBe(valueAt(7, y, z));
          }
        }
      } finally {
        await volume.close();
      }
    });
  }
});
