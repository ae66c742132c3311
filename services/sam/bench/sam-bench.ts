import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { timingStats, type TimingStats } from "@gently/bench-stats";
import { call, connectBus, createLogger } from "@gently/bus";
import { benchDetection, scatterEmbryos, syntheticEmbryoImage, writeTinySamModels } from "@gently/detection";
import { sam } from "@gently/protocol";
import { freePort, NatsServerProcess } from "@gently/supervisor";
import { writeImageFile } from "../src/image-file";
import { startSamService } from "../src/sam-service";

/**
 * Speed of the SAM service on this machine's CPU, for the project bench:
 * - the classical stage alone, and SAM encoder / decoder latency per call
 *   (benchDetection, same 2048×2048 synthetic snap);
 * - whole detect requests through the service (a real nats-server, the
 *   service in this process): image read from its OME-TIFF, classical stage,
 *   SAM on every candidate, label mask and detections written and announced.
 *   `cold` requests each see a new image (the encoder runs), `warm` ones
 *   repeat an image (cached embedding, decoder only).
 * SAM numbers are for the tiny SAM-shaped model, i.e. the pipeline's own
 * cost; a real ViT-B encoder adds seconds per new image on a CPU.
 */

export interface SamBenchOptions {
  sizePx?: number;
  embryos?: number;
  repeats?: number;
  log?: (line: string) => void;
}

export interface DetectBench {
  per_image: TimingStats;
  images_per_s: number;
  /** embryos detected (reply records) per second */
  detections_per_s: number;
  embryos_found: number;
}

export interface SamBenchResult {
  image_size_px: number;
  embryos_placed: number;
  sam_model: "tiny";
  classical: TimingStats & { candidates_found: number };
  sam_encoder: TimingStats;
  sam_decoder: TimingStats;
  detect_classical: DetectBench;
  detect_sam_cold: DetectBench;
  detect_sam_warm: DetectBench;
}

function summarise(samples: number[], embryos: number): DetectBench {
  const s = timingStats(samples);
  return { per_image: s, images_per_s: 1000 / s.median_ms, detections_per_s: (1000 * embryos) / s.median_ms, embryos_found: embryos };
}

export async function benchSam(options: SamBenchOptions = {}): Promise<SamBenchResult> {
  const size = options.sizePx ?? 2048;
  const count = options.embryos ?? 20;
  const repeats = Math.max(1, options.repeats ?? 3);
  const log = options.log ?? (() => undefined);
  const pixelSizeUm = 0.65;

  log(`detection library: classical, encoder, decoder on a ${size}×${size} snap`);
  const lib = await benchDetection({ sizePx: size, repeats, embryos: count });

  const dir = mkdtempSync(path.join(os.tmpdir(), "gently-sam-bench-"));
  const nats = new NatsServerProcess({ port: await freePort(), storeDir: path.join(dir, "nats") });
  await nats.start();
  const logger = createLogger("sam-bench", "warn");
  const nc = await connectBus({ servers: nats.url, name: "sam-bench", logger });
  try {
    const models = writeTinySamModels(path.join(dir, "models"));
    const storage = path.join(dir, "storage");
    const service = await startSamService({
      nc,
      logger,
      storage,
      env: { GENTLY_SAM_ENCODER: models.encoderPath, GENTLY_SAM_DECODER: models.decoderPath },
    });
    try {
      // 50×30 µm embryos at 0.65 µm/px, as in benchDetection.
      const image = syntheticEmbryoImage({
        width: size,
        height: size,
        embryos: scatterEmbryos(count, size, size, 25 / pixelSizeUm, 15 / pixelSizeUm),
        texture: 0.4,
        illuminationGradient: 0.2,
      });
      const write = () => writeImageFile(storage, [[image.data]], { width: size, height: size, pixel_size_um: pixelSizeUm, stage_x_um: 0, stage_y_um: 0 });
      const timed = async (image_uid: Awaited<ReturnType<typeof write>>, method: "classical" | "sam") => {
        const t0 = performance.now();
        const reply = await call(nc, sam.detect, { image_uid, options: { method } }, { timeoutMs: 120_000 });
        return { ms: performance.now() - t0, embryos: reply.embryos.length };
      };

      log("detect requests: classical only");
      const classicalUid = await write();
      const classical: number[] = [];
      let classicalFound = 0;
      for (let i = 0; i < repeats; i++) {
        const r = await timed(classicalUid, "classical");
        classical.push(r.ms);
        classicalFound = r.embryos;
      }

      log("detect requests: SAM on new images (encoder runs)");
      const cold: number[] = [];
      let samFound = 0;
      let lastUid = classicalUid;
      for (let i = 0; i < repeats; i++) {
        lastUid = await write();
        const r = await timed(lastUid, "sam");
        cold.push(r.ms);
        samFound = r.embryos;
      }

      log("detect requests: SAM on a repeated image (cached embedding)");
      const warm: number[] = [];
      for (let i = 0; i < repeats; i++) warm.push((await timed(lastUid, "sam")).ms);

      return {
        image_size_px: size,
        embryos_placed: count,
        sam_model: "tiny",
        classical: { ...timingStats(lib.classical.samples_ms), candidates_found: lib.classical.candidates_found },
        sam_encoder: lib.sam_encoder,
        sam_decoder: lib.sam_decoder,
        detect_classical: summarise(classical, classicalFound),
        detect_sam_cold: summarise(cold, samFound),
        detect_sam_warm: summarise(warm, samFound),
      };
    } finally {
      await service.stop();
    }
  } finally {
    await nc.close();
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
