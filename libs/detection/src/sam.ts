import { stat } from "node:fs/promises";
import type * as ort from "onnxruntime-node";
import { maskGeometry, type RegionGeometry } from "./components";
import type { BBox, GrayImage } from "./image";
import { maskToOriginal, padBox, toModelBox, toModelPoint, type SamGeometry } from "./sam-geometry";
import { preprocessForSam } from "./sam-preprocess";

/**
 * Segment Anything on onnxruntime-node (CPU), using the standard split export:
 *   encoder  input_image float32 [1,3,1024,1024] → image_embeddings float32 [1,256,64,64]
 *   decoder  (official segment-anything scripts/export_onnx_model.py names)
 *            image_embeddings, point_coords [1,N,2], point_labels [1,N], mask_input [1,1,256,256],
 *            has_mask_input [1], orig_im_size [2] = [H, W]
 *            → masks [1,M,H,W] logits, iou_predictions [1,M], low_res_masks [1,M,256,256]
 * The encoder is the expensive part (seconds for ViT-B on CPU), so embeddings are cached per image key and
 * every box prompt on the same image only runs the decoder.
 */

export const SAM_ENCODER_INPUT = "input_image";
export const SAM_ENCODER_OUTPUT = "image_embeddings";
export const SAM_DECODER_INPUTS = ["image_embeddings", "point_coords", "point_labels", "mask_input", "has_mask_input", "orig_im_size"] as const;
export const SAM_DECODER_OUTPUTS = ["masks", "iou_predictions"] as const;

/** Prompt point labels of SAM's ONNX decoder. */
export const SAM_LABEL = { padding: -1, background: 0, foreground: 1, boxTopLeft: 2, boxBottomRight: 3 } as const;

export interface SamLoadOptions {
  encoderPath: string;
  decoderPath: string;
  /** Embeddings kept in the LRU cache (each is 4 MiB for SAM's 256×64×64 float32). */
  embeddingCacheSize?: number;
  /** onnxruntime intra-op threads; default lets onnxruntime use all cores. */
  intraOpThreads?: number;
}

export interface SamPromptPoint {
  /** Original-image pixel coordinates. */
  x: number;
  y: number;
  label: typeof SAM_LABEL.foreground | typeof SAM_LABEL.background;
}

export interface SamSegmentOptions {
  /** Padding added around the box on every side before prompting, clipped to the image. */
  boxPaddingPx?: number;
  /**
   * With a 4-mask decoder (single-mask token first, then three multimask outputs), true picks the best
   * predicted IoU among the three multimask outputs, false takes the single-mask output. Decoders with any
   * other M always pick the best predicted IoU.
   */
  multimask?: boolean;
  /** Extra foreground/background clicks, in original pixels. */
  points?: readonly SamPromptPoint[];
}

export interface SamMaskResult extends RegionGeometry {
  /** Binary mask at the original image size, row-major. */
  mask: Uint8Array;
  width: number;
  height: number;
  /** Decoder's predicted IoU for the chosen mask. */
  score: number;
  /** Index of the chosen mask among the decoder's M outputs. */
  mask_index: number;
  /** The padded, clipped box actually sent to the decoder (original pixels, half-open). */
  prompt_box: BBox | null;
}

export interface SamInfo {
  encoderPath: string;
  decoderPath: string;
  executionProvider: "cpu";
  lastPreprocessMs: number | null;
  lastEncoderMs: number | null;
  lastDecoderMs: number | null;
  encoderRuns: number;
  cachedEmbeddings: number;
}

interface CachedEmbedding {
  embeddings: ort.Tensor;
  geometry: SamGeometry;
}

let runtime: typeof ort | undefined;

/**
 * onnxruntime-node (and its native library) is loaded when a model is first
 * opened, so what imports this package for its image helpers stays light.
 */
async function onnxRuntime(): Promise<typeof ort> {
  // the package's named exports (its ESM entry has no default export)
  runtime ??= (await import("onnxruntime-node")) as typeof ort;
  return runtime;
}

/** The runtime a SamSegmenter's sessions came from (loaded before any segmenter exists). */
function loadedRuntime(): typeof ort {
  if (!runtime) throw new Error("onnxruntime-node is not loaded yet: open a model first");
  return runtime;
}

async function openSession(kind: "encoder" | "decoder", path: string, options: SamLoadOptions): Promise<ort.InferenceSession> {
  let isFile = false;
  try {
    isFile = (await stat(path)).isFile();
  } catch {
    throw new Error(`SAM ${kind} model file not found: ${path}`);
  }
  if (!isFile) throw new Error(`SAM ${kind} model path is not a file: ${path}`);
  try {
    return await (await onnxRuntime()).InferenceSession.create(path, {
      executionProviders: ["cpu"],
      graphOptimizationLevel: "all",
      ...(options.intraOpThreads ? { intraOpNumThreads: options.intraOpThreads } : {}),
    });
  } catch (err) {
    throw new Error(`SAM ${kind} model at ${path} could not be loaded by onnxruntime (corrupt or not an ONNX model?): ${(err as Error).message}`);
  }
}

function tensorMeta(session: ort.InferenceSession, name: string, which: "input" | "output"): ort.InferenceSession.ValueMetadata | undefined {
  const list = which === "input" ? session.inputMetadata : session.outputMetadata;
  return list.find((m) => m.name === name);
}

function describeShape(meta: ort.InferenceSession.ValueMetadata | undefined): string {
  return meta && meta.isTensor ? `${meta.type}[${meta.shape.join(",")}]` : "non-tensor";
}

/** Fixed dimension sizes must match; symbolic (string) dimensions are accepted. */
function shapeMatches(meta: ort.InferenceSession.ValueMetadata | undefined, type: string, shape: readonly (number | null)[]): boolean {
  if (!meta || !meta.isTensor || meta.type !== type) return false;
  if (meta.shape.length === 0) return true; // shape unknown to onnxruntime
  if (meta.shape.length !== shape.length) return false;
  return shape.every((d, i) => d === null || typeof meta.shape[i] !== "number" || meta.shape[i] === d);
}

function validateEncoder(session: ort.InferenceSession, path: string): number {
  const input = tensorMeta(session, SAM_ENCODER_INPUT, "input");
  if (!input) {
    throw new Error(`SAM encoder at ${path} has inputs [${session.inputNames.join(", ")}]; expected "${SAM_ENCODER_INPUT}" float32 [1,3,1024,1024]`);
  }
  if (!shapeMatches(input, "float32", [1, 3, null, null])) {
    throw new Error(`SAM encoder at ${path}: input "${SAM_ENCODER_INPUT}" is ${describeShape(input)}; expected float32 [1,3,1024,1024] (normalised NCHW)`);
  }
  const output = tensorMeta(session, SAM_ENCODER_OUTPUT, "output");
  if (!output) {
    throw new Error(`SAM encoder at ${path} has outputs [${session.outputNames.join(", ")}]; expected "${SAM_ENCODER_OUTPUT}"`);
  }
  const side = input.isTensor ? input.shape[2] : undefined;
  return typeof side === "number" ? side : 1024;
}

function validateDecoder(session: ort.InferenceSession, path: string): void {
  const missingInputs = SAM_DECODER_INPUTS.filter((n) => !session.inputNames.includes(n));
  const missingOutputs = SAM_DECODER_OUTPUTS.filter((n) => !session.outputNames.includes(n));
  if (missingInputs.length || missingOutputs.length) {
    throw new Error(
      `SAM decoder at ${path} does not have the segment-anything ONNX interface: missing inputs [${missingInputs.join(", ")}], ` +
        `missing outputs [${missingOutputs.join(", ")}] (has inputs [${session.inputNames.join(", ")}], outputs [${session.outputNames.join(", ")}])`,
    );
  }
}

export class SamSegmenter {
  private readonly cache = new Map<string, CachedEmbedding>();
  private readonly inFlight = new Map<string, Promise<CachedEmbedding>>();
  private readonly cacheSize: number;
  private lastPreprocessMs: number | null = null;
  private lastEncoderMs: number | null = null;
  private lastDecoderMs: number | null = null;
  private encoderRuns = 0;
  // SAM's decoder requires a mask prompt tensor even when unused; one zero tensor serves every call.
  private readonly noMask = new (loadedRuntime().Tensor)("float32", new Float32Array(256 * 256), [1, 1, 256, 256]);
  private readonly hasNoMask = new (loadedRuntime().Tensor)("float32", Float32Array.of(0), [1]);

  private constructor(
    private readonly encoder: ort.InferenceSession,
    private readonly decoder: ort.InferenceSession,
    private readonly encoderPath: string,
    private readonly decoderPath: string,
    private readonly inputSize: number,
    options: SamLoadOptions,
  ) {
    this.cacheSize = Math.max(1, options.embeddingCacheSize ?? 4);
  }

  /** Opens both models and checks their interface; errors name the offending path. */
  static async load(options: SamLoadOptions): Promise<SamSegmenter> {
    const encoder = await openSession("encoder", options.encoderPath, options);
    let decoder: ort.InferenceSession;
    try {
      decoder = await openSession("decoder", options.decoderPath, options);
    } catch (err) {
      await encoder.release();
      throw err;
    }
    try {
      const inputSize = validateEncoder(encoder, options.encoderPath);
      validateDecoder(decoder, options.decoderPath);
      return new SamSegmenter(encoder, decoder, options.encoderPath, options.decoderPath, inputSize, options);
    } catch (err) {
      await Promise.all([encoder.release(), decoder.release()]);
      throw err;
    }
  }

  /**
   * Computes (or reuses) the embedding for `imageKey`. The key identifies the image (e.g. its UID); a key
   * already cached is not re-encoded even if a different image is passed. Concurrent calls for the same key
   * share one encoder run.
   */
  async embed(imageKey: string, image: GrayImage): Promise<{ cached: boolean; geometry: SamGeometry }> {
    const hit = this.touch(imageKey);
    if (hit) return { cached: true, geometry: hit.geometry };
    let pending = this.inFlight.get(imageKey);
    const joined = pending !== undefined;
    if (!pending) {
      // Cache inside the chain so no caller can observe the gap between "encoded" and "cached".
      pending = this.encode(image)
        .then((entry) => {
          this.cache.set(imageKey, entry);
          while (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value as string);
          return entry;
        })
        .finally(() => this.inFlight.delete(imageKey));
      this.inFlight.set(imageKey, pending);
    }
    const entry = await pending;
    // `cached` is true whenever this call did not start an encoder run itself.
    return { cached: joined, geometry: entry.geometry };
  }

  hasEmbedding(imageKey: string): boolean {
    return this.cache.has(imageKey);
  }

  /** Segments the object in `box` (original pixels, half-open [x0,y0,x1,y1]) on an embedded image. */
  async segmentBox(imageKey: string, box: BBox, options: SamSegmentOptions = {}): Promise<SamMaskResult> {
    return this.segment(imageKey, { box, ...options });
  }

  /** Box and/or point prompt; without a box, SAM's padding point (0,0; label -1) is appended. */
  async segment(imageKey: string, prompt: SamSegmentOptions & { box?: BBox }): Promise<SamMaskResult> {
    const entry = this.touch(imageKey);
    if (!entry) throw new Error(`no SAM embedding cached for image key "${imageKey}"; call embed() first`);
    const g = entry.geometry;
    const points = prompt.points ?? [];
    if (!prompt.box && points.length === 0) throw new Error("SAM prompt needs a box or at least one point");

    const coords: number[] = [];
    const labels: number[] = [];
    for (const p of points) {
      coords.push(...toModelPoint(g, p.x, p.y));
      labels.push(p.label);
    }
    let promptBox: BBox | null = null;
    if (prompt.box) {
      promptBox = padBox(prompt.box, prompt.boxPaddingPx ?? 20, g.originalWidth, g.originalHeight);
      const [x0, y0, x1, y1] = toModelBox(g, promptBox);
      coords.push(x0, y0, x1, y1);
      labels.push(SAM_LABEL.boxTopLeft, SAM_LABEL.boxBottomRight);
    } else {
      coords.push(0, 0);
      labels.push(SAM_LABEL.padding);
    }

    const n = labels.length;
    const feeds: Record<string, ort.Tensor> = {
      image_embeddings: entry.embeddings,
      point_coords: new (loadedRuntime().Tensor)("float32", Float32Array.from(coords), [1, n, 2]),
      point_labels: new (loadedRuntime().Tensor)("float32", Float32Array.from(labels), [1, n]),
      mask_input: this.noMask,
      has_mask_input: this.hasNoMask,
      orig_im_size: new (loadedRuntime().Tensor)("float32", Float32Array.of(g.originalHeight, g.originalWidth), [2]),
    };
    const t0 = performance.now();
    const out = await this.decoder.run(feeds, ["masks", "iou_predictions"]);
    this.lastDecoderMs = performance.now() - t0;

    const scores = out.iou_predictions.data as Float32Array;
    const masks = out.masks;
    const m = scores.length;
    const multimask = prompt.multimask ?? true;
    let first = 0;
    let last = m - 1;
    if (m === 4) {
      if (multimask) first = 1;
      else last = 0;
    }
    let best = first;
    for (let i = first + 1; i <= last; i++) if (scores[i] > scores[best]) best = i;

    const [, , mh, mw] = masks.dims;
    const plane = mh * mw;
    const logits = (masks.data as Float32Array).subarray(best * plane, (best + 1) * plane);
    let mask: Uint8Array;
    if (mh === g.originalHeight && mw === g.originalWidth) {
      mask = new Uint8Array(plane);
      for (let i = 0; i < plane; i++) mask[i] = logits[i] > 0 ? 1 : 0;
    } else if (mh === mw) {
      // Some exports stop before SAM's postprocessing and return the padded square frame.
      mask = maskToOriginal(g, logits, mh);
    } else {
      throw new Error(`SAM decoder returned masks of ${mw}x${mh}; expected the original ${g.originalWidth}x${g.originalHeight} or a square model frame`);
    }
    return {
      ...maskGeometry(mask, g.originalWidth, g.originalHeight),
      mask,
      width: g.originalWidth,
      height: g.originalHeight,
      score: scores[best],
      mask_index: best,
      prompt_box: promptBox,
    };
  }

  info(): SamInfo {
    return {
      encoderPath: this.encoderPath,
      decoderPath: this.decoderPath,
      executionProvider: "cpu",
      lastPreprocessMs: this.lastPreprocessMs,
      lastEncoderMs: this.lastEncoderMs,
      lastDecoderMs: this.lastDecoderMs,
      encoderRuns: this.encoderRuns,
      cachedEmbeddings: this.cache.size,
    };
  }

  clearCache(): void {
    this.cache.clear();
  }

  async dispose(): Promise<void> {
    this.cache.clear();
    await Promise.all([this.encoder.release(), this.decoder.release()]);
  }

  private touch(imageKey: string): CachedEmbedding | undefined {
    const entry = this.cache.get(imageKey);
    if (entry) {
      // Re-insert to mark as most recently used (Map keeps insertion order).
      this.cache.delete(imageKey);
      this.cache.set(imageKey, entry);
    }
    return entry;
  }

  private async encode(image: GrayImage): Promise<CachedEmbedding> {
    const t0 = performance.now();
    const input = preprocessForSam(image, this.inputSize);
    const t1 = performance.now();
    const out = await this.encoder.run({ [SAM_ENCODER_INPUT]: new (loadedRuntime().Tensor)("float32", input.tensor, input.dims) }, [SAM_ENCODER_OUTPUT]);
    const t2 = performance.now();
    this.lastPreprocessMs = t1 - t0;
    this.lastEncoderMs = t2 - t1;
    this.encoderRuns++;
    return { embeddings: out[SAM_ENCODER_OUTPUT], geometry: input.geometry };
  }
}
