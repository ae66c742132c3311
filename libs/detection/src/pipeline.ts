import { detectCandidates, type ClassicalCandidate, type ClassicalOptions, type ClassicalResult } from "./classical";
import { toEmbryos, type Embryo, type ImageFrame } from "./embryos";
import type { GrayImage } from "./image";
import type { SamMaskResult, SamSegmenter, SamSegmentOptions } from "./sam";

/**
 * The two detection flows a service runs: classical candidates alone, or classical candidates used as box
 * prompts for SAM (the candidates find the embryos, SAM draws their outlines).
 */

export interface DetectionResult {
  method: "classical" | "sam";
  embryos: Embryo[];
  candidates: ClassicalCandidate[];
  /** SAM masks in candidate order (empty for the classical flow). */
  masks: SamMaskResult[];
  classical: Omit<ClassicalResult, "candidates">;
  timings_ms: { classical: number; sam_embed: number; sam_decode: number; total: number };
}

export function detectEmbryosClassical(image: GrayImage, frame: ImageFrame, options: ClassicalOptions = {}): DetectionResult {
  const t0 = performance.now();
  const { candidates, ...classical } = detectCandidates(image, options);
  const t1 = performance.now();
  return {
    method: "classical",
    embryos: toEmbryos(candidates, frame, { method: "classical" }),
    candidates,
    masks: [],
    classical,
    timings_ms: { classical: t1 - t0, sam_embed: 0, sam_decode: 0, total: t1 - t0 },
  };
}

export async function detectEmbryosSam(
  sam: SamSegmenter,
  imageKey: string,
  image: GrayImage,
  frame: ImageFrame,
  options: { classical?: ClassicalOptions; sam?: SamSegmentOptions } = {},
): Promise<DetectionResult> {
  if (image.width !== frame.width || image.height !== frame.height) {
    throw new Error(`image is ${image.width}x${image.height} but frame says ${frame.width}x${frame.height}`);
  }
  const t0 = performance.now();
  const { candidates, ...classical } = detectCandidates(image, options.classical);
  const t1 = performance.now();
  await sam.embed(imageKey, image);
  const t2 = performance.now();
  const masks: SamMaskResult[] = [];
  for (const c of candidates) masks.push(await sam.segmentBox(imageKey, c.bbox, options.sam));
  const t3 = performance.now();
  return {
    method: "sam",
    embryos: toEmbryos(masks, frame, { method: "sam" }),
    candidates,
    masks,
    classical,
    timings_ms: { classical: t1 - t0, sam_embed: t2 - t1, sam_decode: t3 - t2, total: t3 - t0 },
  };
}
