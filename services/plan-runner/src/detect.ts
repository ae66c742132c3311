import type { NatsConnection } from "@nats-io/transport-node";
import { call } from "@gently/bus";
import { sam, type Uid } from "@gently/protocol";

/** SAM on a CPU can take tens of seconds for a first embedding. */
const DETECT_TIMEOUT_MS = 180_000;

/** Asks the SAM service for the embryos in an image; returns the per-embryo records and where the results are. */
export async function detectEmbryos(nc: NatsConnection, image_uid: string, run_uid?: string): Promise<Record<string, unknown>> {
  const reply = await call(nc, sam.detect, { image_uid: image_uid as Uid, ...(run_uid ? { run_uid: run_uid as Uid } : {}) }, { timeoutMs: DETECT_TIMEOUT_MS });
  return {
    image_uid: reply.image_uid,
    method: reply.method,
    count: reply.embryos.length,
    embryos: reply.embryos,
    detection_uid: reply.detection_uid,
    detections_path: reply.detections_path,
    mask_uid: reply.mask_uid,
    mask_path: reply.mask_path,
  };
}
