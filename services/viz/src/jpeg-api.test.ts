import { decode } from "jpeg-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeSampleVolume } from "@gently/datastore";
import { filePreview, PreviewOptions } from "@gently/preview";
import type { VolumeWritten } from "@gently/protocol";
import { startVizHarness, type VizHarness } from "../test/harness";

/** Bright along x, brighter with z and on the second camera. */
const plane = (width: number, height: number) => (c: number, z: number) => {
  const p = new Uint16Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) p[y * width + x] = 500 + 20 * x + 100 * z + 3000 * c;
  return p;
};

describe("viz JPEG previews for the model (real viz process, real OME-TIFF files)", () => {
  let h: VizHarness;
  let wide: VolumeWritten;
  let dual: VolumeWritten;

  beforeAll(async () => {
    h = await startVizHarness({ indexer: false });
    wide = await writeSampleVolume(h.storage, { size_x: 2048, size_y: 512, size_z: 3, plane: plane(2048, 512) });
    dual = await writeSampleVolume(h.storage, { size_x: 128, size_y: 64, size_z: 3, size_c: 2, plane: plane(128, 64) });
  });
  afterAll(() => h?.stop());

  async function jpeg(url: string) {
    const res = await fetch(h.base + url);
    expect(res.status, await res.clone().text().catch(() => "")).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/jpeg");
    const bytes = new Uint8Array(await res.arrayBuffer());
    return { bytes, image: decode(bytes, { useTArray: true }) };
  }

  it("serves the MIP as a JPEG of at most 800 px, the same bytes the shared preview function makes", async () => {
    const { bytes, image } = await jpeg(`/api/images/${wide.uid}/mip.jpg`);
    expect([image.width, image.height]).toEqual([800, 200]);
    const same = await filePreview(wide.path, { kind: "mip" }, PreviewOptions.parse({}));
    expect(bytes).toEqual(same.jpeg);
  });

  it("serves a slice, sized by max", async () => {
    const { image } = await jpeg(`/api/images/${wide.uid}/slice/2.jpg?max=256&low=0&high=100`);
    expect([image.width, image.height]).toEqual([256, 64]);
  });

  it("shows a dual-camera volume's cameras side by side, or the one c picks", async () => {
    const both = await jpeg(`/api/images/${dual.uid}/mip.jpg`);
    expect([both.image.width, both.image.height]).toEqual([128, 64 + 4 + 64]);
    const one = await jpeg(`/api/images/${dual.uid}/mip.jpg?c=1`);
    expect([one.image.width, one.image.height]).toEqual([128, 64]);
  });

  it("refuses bad parameters with 400 naming the parameter and its limit", async () => {
    for (const [url, field, message] of [
      [`/api/images/${wide.uid}/mip.jpg?max=5000`, "max", /4096/],
      [`/api/images/${wide.uid}/mip.jpg?low=60&high=50`, "high", /low/],
      [`/api/images/${wide.uid}/mip.jpg?c=1`, "channel", /\[0, 0\]/],
      [`/api/images/${wide.uid}/slice/3.jpg`, "z", /\[0, 2\]/],
      [`/api/images/${wide.uid}/mip.jpg?bin=2`, "bin", /unknown/],
    ] as const) {
      const res = await fetch(h.base + url);
      const body = (await res.json()) as { error: { field: string; message: string } };
      expect(res.status, url).toBe(400);
      expect(body.error.field, url).toBe(field);
      expect(body.error.message, url).toMatch(message);
    }
  });
});
