import { decode } from "jpeg-js";
import { afterAll, describe, expect, it } from "vitest";
import { writeSampleVolume } from "@gently/datastore";
import { tempStorage } from "@gently/testing";
import { GentlyError } from "@gently/protocol";
import { filePreview, PreviewOptions, previewOptionsOf, PreviewQuery, previewJpeg, shrinkByAreaMean } from "./index";

const temp = tempStorage("gently-preview-");
const storage = temp.dir;
afterAll(() => temp.remove());

const defaults = PreviewOptions.parse({});

/** A ramp along x, brighter with z: the projection is the last plane. */
function rampPlane(width: number, height: number, z: number, offset = 0): Uint16Array {
  const plane = new Uint16Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) plane[y * width + x] = 1000 + offset + x * 10 + z * 100;
  return plane;
}

describe("previewJpeg", () => {
  it("shrinks a 2048x512 projection to 800 px on its long side and decodes as a JPEG", async () => {
    const volume = await writeSampleVolume(storage, { size_x: 2048, size_y: 512, size_z: 4, plane: (_c, z) => rampPlane(2048, 512, z) });
    const preview = await filePreview(volume.path, { kind: "mip" }, defaults);
    const jpeg = decode(preview.jpeg, { useTArray: true });
    expect([jpeg.width, jpeg.height]).toEqual([800, 200]);
    expect([preview.width, preview.height]).toEqual([800, 200]);
    // stretched between the 1st and 99.5th percentile of the last (brightest) plane
    expect(preview.windows[0].min).toBeGreaterThanOrEqual(1000 + 300 + 10 * 20);
    expect(preview.windows[0].min).toBeLessThanOrEqual(1000 + 300 + 10 * 21);
    expect(jpeg.data[0]).toBeLessThan(8); // left edge black
    expect(jpeg.data[(799) * 4]).toBeGreaterThan(247); // right edge white
  });

  it("puts the two cameras of a dual-camera volume one above the other, or shows the one asked for", async () => {
    const volume = await writeSampleVolume(storage, { size_x: 64, size_y: 32, size_z: 2, size_c: 2, plane: (c, z) => rampPlane(64, 32, z, c * 5000) });
    const both = await filePreview(volume.path, { kind: "slice", z: 1 }, defaults);
    expect([both.width, both.height]).toEqual([64, 32 + 4 + 32]);
    expect(both.windows.map((w) => w.min > 5000)).toEqual([false, true]);
    const second = await filePreview(volume.path, { kind: "slice", z: 1 }, PreviewOptions.parse({ channel: 1 }));
    expect([second.width, second.height]).toEqual([64, 32]);
    expect(second.windows[0].min).toBeGreaterThan(5000);
  });

  it("refuses a channel or slice the volume does not have, naming it and its limit", async () => {
    const volume = await writeSampleVolume(storage, { size_z: 3 });
    await expect(filePreview(volume.path, { kind: "slice", z: 3 }, defaults)).rejects.toThrow(/z: must be in \[0, 2\]/);
    const err = await filePreview(volume.path, { kind: "mip" }, PreviewOptions.parse({ channel: 1 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GentlyError);
    expect((err as GentlyError).field).toBe("channel");
  });

  it("never enlarges a small image", () => {
    const preview = previewJpeg([{ pixels: rampPlane(40, 20, 0), width: 40, height: 20 }], defaults);
    expect([preview.width, preview.height]).toEqual([40, 20]);
  });

  it("averages areas when shrinking", () => {
    const src = Uint8Array.from([0, 100, 200, 100, 0, 100, 200, 100]);
    expect(Array.from(shrinkByAreaMean(src, 4, 2, 2, 1))).toEqual([50, 150]);
  });
});

describe("preview options", () => {
  it("has the copilot's defaults: 800 px, 1st to 99.5th percentile", () => {
    expect(defaults).toMatchObject({ max_px: 800, low_percent: 1, high_percent: 99.5 });
  });

  it("reads the query form and refuses bad values naming the parameter and its limit", () => {
    expect(previewOptionsOf(PreviewQuery.parse({ max: "400", low: "2", high: "98.5", c: "1" }))).toMatchObject({ max_px: 400, low_percent: 2, high_percent: 98.5, channel: 1 });
    const tooBig = PreviewQuery.safeParse({ max: "9000" });
    expect(tooBig.success).toBe(false);
    expect(GentlyError.fromZod(tooBig.error!).message).toMatch(/max.*4096/);
    const inverted = PreviewQuery.safeParse({ low: "50", high: "40" });
    expect(GentlyError.fromZod(inverted.error!).field).toBe("high");
    const unknown = PreviewQuery.safeParse({ size: "3" });
    expect(GentlyError.fromZod(unknown.error!).message).toMatch(/size/);
  });
});
