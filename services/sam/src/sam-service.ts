import type { NatsConnection } from "@nats-io/transport-node";
import { ensureStream, handle, jetStreamOf, publishDurable, startMicroService, type Logger } from "@gently/bus";
import { DerivedWritten, GentlyError, sam, streams, subjects, type SamStatus } from "@gently/protocol";
import { detect } from "./detect";
import { SamModel } from "./sam-model";

export const SAM_SERVICE_VERSION = "0.1.0";

export interface SamServiceOptions {
  nc: NatsConnection;
  logger: Logger;
  storage: string;
  /** where GENTLY_SAM_ENCODER / GENTLY_SAM_DECODER are read (default process.env) */
  env?: NodeJS.ProcessEnv;
  /** SAM embeddings kept, one per image (4 MiB each for SAM's 256×64×64) */
  embeddingCacheSize?: number;
}

export interface SamService {
  model: SamModel;
  stop(): Promise<void>;
}

/**
 * Serves gently.sam.detect and gently.sam.status. Detections run one at a
 * time: each is CPU-bound (the classical stage and onnxruntime use every
 * core) and holds full-size masks, so running two at once only makes both
 * slower and doubles the memory. Status is answered between them.
 */
export async function startSamService(opts: SamServiceOptions): Promise<SamService> {
  const { nc, logger, storage } = opts;
  const { js, jsm } = await jetStreamOf(nc);
  await ensureStream(jsm, streams.data);
  const model = SamModel.fromEnv(opts.env ?? process.env, logger, opts.embeddingCacheSize);

  let queue: Promise<unknown> = Promise.resolve();
  let stopping = false;
  let detections = 0;
  let lastLatencyMs: number | null = null;
  let lastEncoderMs: number | null = null;
  let lastDecoderMs: number | null = null;

  const announce = async (item: DerivedWritten): Promise<void> => {
    try {
      await publishDurable(js, subjects.derived.written, DerivedWritten, item, item.uid);
    } catch (err) {
      throw new GentlyError("unavailable", `${item.path} is written but its announcement on ${subjects.derived.written} failed: ${(err as Error).message}`);
    }
  };

  const service = await startMicroService(nc, {
    name: "sam",
    version: SAM_SERVICE_VERSION,
    description: "embryo detection: classical candidates, Segment Anything on onnxruntime (CPU)",
    logger,
    handlers: [
      handle(sam.detect, (request, ctx) => {
        if (stopping) throw new GentlyError("unavailable", "the SAM service is stopping");
        const run = queue.then(() => detect({ storage, model, logger: ctx.logger, announce }, request));
        queue = run.catch(() => undefined);
        return run.then((outcome) => {
          detections++;
          lastLatencyMs = outcome.reply.latency_ms;
          if (outcome.encoderMs !== null) lastEncoderMs = outcome.encoderMs;
          if (outcome.decoderMs !== null) lastDecoderMs = outcome.decoderMs;
          return outcome.reply;
        });
      }),
      handle(sam.status, (): SamStatus => {
        const report = model.report();
        const info = model.current()?.info();
        return {
          model_loaded: report.state === "ready",
          ...report,
          last_latency_ms: lastLatencyMs,
          last_encoder_ms: lastEncoderMs,
          last_decoder_ms: lastDecoderMs,
          encoder_runs: info?.encoderRuns ?? 0,
          cached_embeddings: info?.cachedEmbeddings ?? 0,
          detections,
        };
      }),
    ],
  });

  return {
    model,
    stop: async () => {
      stopping = true;
      await service.stop();
      // Let a detection in progress finish writing and announcing its files.
      await queue;
      await model.dispose();
    },
  };
}
