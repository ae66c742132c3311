import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BBox } from "./image";
import { TINY_SAM_BEST_MULTIMASK_INDEX, TINY_SAM_IOU_PREDICTIONS, writeTinySamModels, type SamModelPaths } from "./make-test-model";
import { SamSegmenter } from "./sam";
import { maskToOriginal, samGeometry, toModelBox } from "./sam-geometry";
import { scatterEmbryos, syntheticEmbryoImage } from "./synthetic";

let dir: string;
let paths: SamModelPaths;
let sam: SamSegmenter;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "gently-sam-test-"));
  paths = writeTinySamModels(dir);
  sam = await SamSegmenter.load(paths);
});

afterAll(async () => {
  await sam?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

function expectMaskIsBox(mask: Uint8Array, width: number, height: number, box: BBox): void {
  let mismatches = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inside = x >= box[0] && x < box[2] && y >= box[1] && y < box[3] ? 1 : 0;
      if (mask[y * width + x] !== inside) mismatches++;
    }
  }
  expect(mismatches).toBe(0);
}

describe("SamSegmenter with the tiny SAM-shaped model", () => {
  it("returns masks covering exactly the padded boxes on a 2048×2048 snap, encoding once", async () => {
    const image = syntheticEmbryoImage({ width: 2048, height: 2048, embryos: scatterEmbryos(4, 2048, 2048, 38.5, 23), seed: 2 });
    const first = await sam.embed("snap-1", image);
    expect(first.cached).toBe(false);
    expect(first.geometry).toMatchObject({ resizedWidth: 1024, resizedHeight: 1024 });
    const runsAfterEmbed = sam.info().encoderRuns;
    const boxes: BBox[] = [
      [100, 200, 177, 246],
      [1500, 1600, 1561, 1690],
      [1021, 3, 1100, 80], // padding clipped at the top
      [2000, 2010, 2048, 2048], // clipped at the bottom-right corner
    ];
    for (const box of boxes) {
      const r = await sam.segmentBox("snap-1", box);
      const padded: BBox = [Math.max(0, box[0] - 20), Math.max(0, box[1] - 20), Math.min(2048, box[2] + 20), Math.min(2048, box[3] + 20)];
      expect(r.prompt_box).toEqual(padded);
      expect(r.mask_index).toBe(TINY_SAM_BEST_MULTIMASK_INDEX);
      expect(r.score).toBeCloseTo(TINY_SAM_IOU_PREDICTIONS[TINY_SAM_BEST_MULTIMASK_INDEX], 6);
      expect(r.width).toBe(2048);
      expect(r.height).toBe(2048);
      expectMaskIsBox(r.mask, 2048, 2048, padded);
      expect(r.bbox).toEqual(padded);
      expect(r.area_pixels).toBe((padded[2] - padded[0]) * (padded[3] - padded[1]));
      expect(r.centroid_x).toBeCloseTo((padded[0] + padded[2] - 1) / 2, 9);
    }
    expect((await sam.embed("snap-1", image)).cached).toBe(true);
    expect(sam.info().encoderRuns).toBe(runsAfterEmbed);
    const info = sam.info();
    expect(info).toMatchObject({ encoderPath: paths.encoderPath, decoderPath: paths.decoderPath, executionProvider: "cpu" });
    expect(info.lastEncoderMs).toBeGreaterThan(0);
    expect(info.lastDecoderMs).toBeGreaterThan(0);
  });

  it("maps boxes exactly on non-square images and honours padding options", async () => {
    const image = syntheticEmbryoImage({ width: 1000, height: 601, embryos: [], seed: 3 });
    await sam.embed("odd", image);
    const r = await sam.segmentBox("odd", [123, 77, 345, 290], { boxPaddingPx: 5 });
    expectMaskIsBox(r.mask, 1000, 601, [118, 72, 350, 295]);
    const unpadded = await sam.segmentBox("odd", [123, 77, 345, 290], { boxPaddingPx: 0 });
    expectMaskIsBox(unpadded.mask, 1000, 601, [123, 77, 345, 290]);
  });

  it("selects the single-mask output when multimask is off", async () => {
    const image = syntheticEmbryoImage({ width: 256, height: 256, embryos: [], seed: 4 });
    await sam.embed("small", image);
    const r = await sam.segmentBox("small", [50, 50, 100, 100], { multimask: false });
    expect(r.mask_index).toBe(0);
    expect(r.score).toBeCloseTo(TINY_SAM_IOU_PREDICTIONS[0], 6);
    // The tiny model's single-mask output is the inverted box.
    expect(r.area_pixels).toBe(256 * 256 - 90 * 90);
  });

  it("sends point-only prompts with SAM's padding point", async () => {
    const image = syntheticEmbryoImage({ width: 256, height: 256, embryos: [], seed: 4 });
    await sam.embed("points", image);
    const r = await sam.segment("points", { points: [{ x: 10, y: 10, label: 1 }] });
    // No box labels reach the tiny decoder, so its box mask is empty.
    expect(r.prompt_box).toBeNull();
    expect(r.area_pixels).toBe(0);
    await expect(sam.segment("points", {})).rejects.toThrow(/box or at least one point/);
  });

  it("shares one encoder run between concurrent embeds and evicts least recently used embeddings", async () => {
    const small = await SamSegmenter.load({ ...paths, embeddingCacheSize: 2 });
    try {
      const image = syntheticEmbryoImage({ width: 128, height: 128, embryos: [], seed: 5 });
      const results = await Promise.all([small.embed("a", image), small.embed("a", image), small.embed("a", image)]);
      expect(results.filter((r) => !r.cached)).toHaveLength(1);
      expect(small.info().encoderRuns).toBe(1);
      await small.embed("b", image);
      await small.segmentBox("a", [10, 10, 20, 20]); // touch a: b is now least recently used
      await small.embed("c", image);
      expect(small.hasEmbedding("a")).toBe(true);
      expect(small.hasEmbedding("b")).toBe(false);
      expect(small.info().cachedEmbeddings).toBe(2);
      await expect(small.segmentBox("b", [10, 10, 20, 20])).rejects.toThrow(/no SAM embedding cached for image key "b"/);
    } finally {
      await small.dispose();
    }
  });

  it("low_res_masks of the tiny decoder agree with the geometry module", async () => {
    // Cross-check of the model and maskToOriginal: a padded box with edges on 8 px multiples maps onto whole
    // 256-grid cells of a 2048 snap, so the low-res mask must map back to exactly the same pixels.
    const decoder = await ort.InferenceSession.create(paths.decoderPath);
    const g = samGeometry(2048, 2048);
    const box: BBox = [96, 200, 304, 400];
    const [x0, y0, x1, y1] = toModelBox(g, box);
    const out = await decoder.run({
      image_embeddings: new ort.Tensor("float32", new Float32Array(256 * 64 * 64), [1, 256, 64, 64]),
      point_coords: new ort.Tensor("float32", Float32Array.of(x0, y0, x1, y1), [1, 2, 2]),
      point_labels: new ort.Tensor("float32", Float32Array.of(2, 3), [1, 2]),
      mask_input: new ort.Tensor("float32", new Float32Array(256 * 256), [1, 1, 256, 256]),
      has_mask_input: new ort.Tensor("float32", Float32Array.of(0), [1]),
      orig_im_size: new ort.Tensor("float32", Float32Array.of(2048, 2048), [2]),
    });
    expect(out.low_res_masks.dims).toEqual([1, 4, 256, 256]);
    const plane = 256 * 256;
    const lowRes = (out.low_res_masks.data as Float32Array).subarray(2 * plane, 3 * plane);
    expectMaskIsBox(maskToOriginal(g, lowRes, 256), 2048, 2048, box);
    await decoder.release();
  });
});

describe("SamSegmenter.load errors", () => {
  it("names the missing file", async () => {
    const missing = join(dir, "nope-encoder.onnx");
    await expect(SamSegmenter.load({ encoderPath: missing, decoderPath: paths.decoderPath })).rejects.toThrow(
      `SAM encoder model file not found: ${missing}`,
    );
    const missingDecoder = join(dir, "nope-decoder.onnx");
    await expect(SamSegmenter.load({ encoderPath: paths.encoderPath, decoderPath: missingDecoder })).rejects.toThrow(
      `SAM decoder model file not found: ${missingDecoder}`,
    );
  });

  it("names a corrupt file", async () => {
    const corrupt = join(dir, "corrupt.onnx");
    const bytes = new Uint8Array(4096);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
    writeFileSync(corrupt, bytes);
    await expect(SamSegmenter.load({ encoderPath: paths.encoderPath, decoderPath: corrupt })).rejects.toThrow(
      new RegExp(`SAM decoder model at ${corrupt.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} could not be loaded`),
    );
  });

  it("rejects models with the wrong interface and says what was expected", async () => {
    await expect(SamSegmenter.load({ encoderPath: paths.decoderPath, decoderPath: paths.decoderPath })).rejects.toThrow(
      /SAM encoder at .*tiny-sam-decoder\.onnx has inputs \[image_embeddings, .*expected "input_image"/,
    );
    await expect(SamSegmenter.load({ encoderPath: paths.encoderPath, decoderPath: paths.encoderPath })).rejects.toThrow(
      /SAM decoder at .*tiny-sam-encoder\.onnx does not have the segment-anything ONNX interface: missing inputs \[image_embeddings, point_coords/,
    );
  });
});
