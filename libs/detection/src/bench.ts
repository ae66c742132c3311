import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { timingStats, type TimingStats } from "@gently/bench-stats";
import { detectCandidates, type ClassicalResult } from "./classical";
import { writeTinySamModels } from "./make-test-model";
import { SamSegmenter } from "./sam";
import { scatterEmbryos, syntheticEmbryoImage } from "./synthetic";

/**
 * Latency benchmark for the project bench: the classical stage on a synthetic snap, and SAM preprocessing,
 * encoder and decoder with the tiny SAM-shaped model. The tiny model measures pipeline overhead (tensor
 * marshalling, mask thresholding, geometry); real ViT-B encoder latency is seconds and must be measured with
 * real weights.
 */

export interface DetectionBenchResult {
  image_size_px: number;
  embryos: number;
  classical: TimingStats & { candidates_found: number; stages_ms: ClassicalResult["timings_ms"] };
  sam_model: "tiny";
  sam_preprocess: TimingStats;
  sam_encoder: TimingStats;
  sam_decoder: TimingStats;
  /** Box prompt end to end: decoder run + threshold + mask geometry. */
  sam_segment_box: TimingStats;
}

export interface DetectionBenchOptions {
  sizePx?: number;
  repeats?: number;
  embryos?: number;
}

export async function benchDetection(options: DetectionBenchOptions = {}): Promise<DetectionBenchResult> {
  const size = options.sizePx ?? 2048;
  const repeats = Math.max(1, options.repeats ?? 3);
  const count = options.embryos ?? 20;
  // 50×30 µm embryos at 0.65 µm/px.
  const image = syntheticEmbryoImage({
    width: size,
    height: size,
    embryos: scatterEmbryos(count, size, size, 38.5, 23),
    texture: 0.4,
    illuminationGradient: 0.2,
  });

  const classicalSamples: number[] = [];
  let last: ClassicalResult | undefined;
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    last = detectCandidates(image, { minAreaPixels: 1000, maxAreaPixels: 10000 });
    classicalSamples.push(performance.now() - t0);
  }

  const dir = mkdtempSync(join(tmpdir(), "gently-detection-bench-"));
  try {
    const sam = await SamSegmenter.load({ ...writeTinySamModels(dir), embeddingCacheSize: 1 });
    try {
      const pre: number[] = [];
      const enc: number[] = [];
      for (let i = 0; i < repeats; i++) {
        // A fresh key per repeat forces a real encoder run.
        await sam.embed(`bench-${i}`, image);
        const info = sam.info();
        pre.push(info.lastPreprocessMs ?? NaN);
        enc.push(info.lastEncoderMs ?? NaN);
      }
      const key = `bench-${repeats - 1}`;
      const boxes = last!.candidates.length ? last!.candidates.map((c) => c.bbox) : [[0, 0, 64, 64] as const];
      const dec: number[] = [];
      const seg: number[] = [];
      for (let i = 0; i < repeats; i++) {
        const t0 = performance.now();
        await sam.segmentBox(key, [...boxes[i % boxes.length]] as [number, number, number, number]);
        seg.push(performance.now() - t0);
        dec.push(sam.info().lastDecoderMs ?? NaN);
      }
      return {
        image_size_px: size,
        embryos: count,
        classical: { ...timingStats(classicalSamples), candidates_found: last!.candidates.length, stages_ms: last!.timings_ms },
        sam_model: "tiny",
        sam_preprocess: timingStats(pre),
        sam_encoder: timingStats(enc),
        sam_decoder: timingStats(dec),
        sam_segment_box: timingStats(seg),
      };
    } finally {
      await sam.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
