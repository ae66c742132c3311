import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { GentlyError, newUid, type Uid } from "@gently/protocol";
import { tempStorage } from "@gently/testing";
import { writeImageFile } from "./image-file";
import { loadSourceImage } from "./image-source";

const W = 64;
const H = 32;

/** A volume as the writer stores two cameras: planes interleaved per slice (XYCZT), stage and pixel size in the annotation. */
const writeVolume = (storage: string, planes: Uint16Array[][]): Promise<Uid> =>
  writeImageFile(storage, planes, { width: W, height: H, pixel_size_um: 0.1625, stage_x_um: 1234.5, stage_y_um: -67.25 });

function randomPlane(seed: number): Uint16Array {
  const plane = new Uint16Array(W * H);
  let s = seed;
  for (let i = 0; i < plane.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    plane[i] = s >>> 16;
  }
  return plane;
}

describe("loading the image to search by uid", () => {
  const storage = tempStorage("gently-sam-image-");
  afterAll(() => storage.remove());

  it("projects a volume to its per-pixel maximum over z, for the chosen channel, with pixel size and stage position from the annotation", async () => {
    const planes = [0, 1, 2].map((z) => [0, 1].map((c) => randomPlane(10 * z + c + 1)));
    const uid = await writeVolume(storage.dir, planes);
    for (const channel of [0, 1]) {
      const loaded = await loadSourceImage(storage.dir, uid, channel);
      const expected = new Uint16Array(W * H);
      for (let i = 0; i < expected.length; i++) expected[i] = Math.max(planes[0][channel][i], planes[1][channel][i], planes[2][channel][i]);
      expect(loaded.source).toBe("max_projection");
      expect(loaded.image.width).toBe(W);
      expect(loaded.image.height).toBe(H);
      expect(Buffer.from(loaded.image.data.buffer).equals(Buffer.from(expected.buffer)), `channel ${channel}`).toBe(true);
      expect(loaded.frame).toEqual({ stage_x_um: 1234.5, stage_y_um: -67.25, pixel_size_um: 0.1625, width: W, height: H });
    }
  });

  it("takes a single-plane image as it is", async () => {
    const plane = randomPlane(99);
    const uid = await writeVolume(storage.dir, [[plane]]);
    const loaded = await loadSourceImage(storage.dir, uid);
    expect(loaded.source).toBe("image");
    expect(Array.from(loaded.image.data)).toEqual(Array.from(plane));
    expect(loaded.path).toBe(path.join(storage.dir, "volumes", `${uid}.tif`));
  });

  it("refuses a malformed uid before touching the disk, an unknown uid as not found, and an unreadable file or missing channel as invalid", async () => {
    const refusal = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e as GentlyError);
    expect(await refusal(loadSourceImage(storage.dir, "../../etc/passwd"))).toMatchObject({ code: "invalid_request", field: "image_uid" });
    const unknown = newUid();
    const missing = await refusal(loadSourceImage(storage.dir, unknown));
    expect(missing).toMatchObject({ code: "not_found", field: "image_uid" });
    expect(missing!.message).toContain(unknown);

    const garbage = newUid();
    writeFileSync(path.join(storage.dir, "volumes", `${garbage}.tif`), "not a tiff at all");
    const unreadable = await refusal(loadSourceImage(storage.dir, garbage));
    expect(unreadable).toBeInstanceOf(GentlyError);
    expect(unreadable).toMatchObject({ code: "invalid_request", field: "image_uid" });
    expect(unreadable!.message).toMatch(/not a readable OME-TIFF/);

    const single = await writeVolume(storage.dir, [[randomPlane(5)]]);
    expect(await refusal(loadSourceImage(storage.dir, single, 1))).toMatchObject({ code: "invalid_request", field: "options.channel" });
  });
});
