import { detectEmbryosClassical, detectEmbryosSam, type DetectionResult } from "@gently/detection";
import type { Logger } from "@gently/bus";
import { DetectOptions, newUid, type DerivedWritten, type DetectedEmbryo, type DetectReply, type DetectRequest, type Uid } from "@gently/protocol";
import { classicalOptionsFor } from "./classical-options";
import { writeDetections, writeLabelMask } from "./derived-results";
import { loadSourceImage } from "./image-source";
import { labelMaskOf } from "./label-mask";
import type { SamModel } from "./sam-model";

export interface DetectDeps {
  storage: string;
  model: SamModel;
  logger: Logger;
  /** announces a derived item durably (gently.derived.written, msgId = uid) */
  announce: (item: DerivedWritten) => Promise<void>;
}

/** What one detection produced, for the reply and the service's status. */
export interface DetectOutcome {
  reply: DetectReply;
  encoderMs: number | null;
  decoderMs: number | null;
}

/**
 * One detect request, start to finish: load the image by uid, classical
 * candidates (area limits from the pixel size), SAM on every candidate box
 * when SAM is in use, then the label mask and the detections JSON under
 * derived/, each announced after it is durably on disk.
 */
export async function detect(deps: DetectDeps, request: { image_uid: Uid; options?: DetectRequest["options"]; run_uid?: Uid }): Promise<DetectOutcome> {
  const t0 = performance.now();
  const options = DetectOptions.parse(request.options ?? {});
  // Decide before touching the image: a broken or missing model is the answer whatever the image.
  const useSam = options.method === "sam" || (options.method === "auto" && deps.model.configured);
  const sam = useSam ? await deps.model.get() : null;

  const source = await loadSourceImage(deps.storage, request.image_uid, options.channel);
  const tLoaded = performance.now();
  const classical = classicalOptionsFor(source.frame.pixel_size_um, options);
  const samOptions = { boxPaddingPx: options.box_padding_px, multimask: options.multimask };

  let result: DetectionResult;
  let embeddingCached = false;
  // A volume's channels are different pictures: the embedding is cached per uid and channel.
  const embeddingKey = source.channel === 0 ? source.uid : `${source.uid}/c${source.channel}`;
  if (sam) {
    embeddingCached = sam.hasEmbedding(embeddingKey);
    result = await detectEmbryosSam(sam, embeddingKey, source.image, source.frame, { classical, sam: samOptions });
  } else {
    result = detectEmbryosClassical(source.image, source.frame, classical);
  }
  const tDetected = performance.now();

  const embryos: DetectedEmbryo[] = result.embryos.map(({ source_index: _index, ...e }, k) => ({ ...e, label: k + 1 }));
  const provenance = { image: source, detection_uid: newUid(), mask_uid: newUid(), run_uid: request.run_uid };
  const summary = { method: result.method, count: embryos.length, source: source.source };

  const mask = labelMaskOf(result, source.image.width, source.image.height);
  const maskItem = await writeLabelMask(deps.storage, provenance, mask, summary);
  const imageFacts = {
    source: source.source,
    width: source.image.width,
    height: source.image.height,
    pixel_size_um: source.frame.pixel_size_um,
    stage_x_um: source.frame.stage_x_um,
    stage_y_um: source.frame.stage_y_um,
  };
  const modelInfo = sam?.info();
  const document = {
    format: "gently.detections/v1",
    detection_uid: provenance.detection_uid,
    image_uid: source.uid,
    image_path: source.path,
    channel: source.channel,
    mask_uid: provenance.mask_uid,
    mask_path: maskItem.path,
    method: result.method,
    created: new Date().toISOString(),
    image: imageFacts,
    settings: {
      classical: {
        polarity: result.classical.polarity,
        min_area_pixels: classical.minAreaPixels,
        max_area_pixels: classical.maxAreaPixels,
        exclude_border: classical.excludeBorderTouching,
        clahe_tile_px: classical.clahe?.tileSizePx,
      },
      sam: sam ? { box_padding_px: options.box_padding_px, multimask: options.multimask } : null,
    },
    model: modelInfo ? { encoder_path: modelInfo.encoderPath, decoder_path: modelInfo.decoderPath, execution_provider: modelInfo.executionProvider } : null,
    classical: {
      thresholds: result.classical.thresholds,
      components_total: result.classical.components_total,
      candidates: result.candidates.length,
    },
    embryos: embryos.map((e) => {
      if (result.method !== "sam") return e;
      const m = result.masks[result.embryos[e.label - 1].source_index];
      return { ...e, sam: { score: m.score, mask_index: m.mask_index, prompt_box: m.prompt_box } };
    }),
    timings_ms: result.timings_ms,
  };
  const detectionItem = await writeDetections(deps.storage, provenance, document, summary);
  await deps.announce(maskItem);
  await deps.announce(detectionItem);
  const tDone = performance.now();

  const reply: DetectReply = {
    image_uid: source.uid,
    method: result.method,
    embryos,
    detection_uid: provenance.detection_uid,
    detections_path: detectionItem.path,
    mask_uid: provenance.mask_uid,
    mask_path: maskItem.path,
    image: imageFacts,
    embedding_cached: embeddingCached,
    latency_ms: tDone - t0,
    timings_ms: {
      load: tLoaded - t0,
      classical: result.timings_ms.classical,
      sam_embed: result.timings_ms.sam_embed,
      sam_decode: result.timings_ms.sam_decode,
      write: tDone - tDetected,
    },
  };
  deps.logger.info(
    { image_uid: source.uid, method: result.method, embryos: embryos.length, detection_uid: provenance.detection_uid, latency_ms: Math.round(reply.latency_ms) },
    "detected embryos",
  );
  return {
    reply,
    encoderMs: sam && !embeddingCached ? (modelInfo?.lastEncoderMs ?? null) : null,
    decoderMs: sam ? (modelInfo?.lastDecoderMs ?? null) : null,
  };
}
