import { readFile, stat } from "node:fs/promises";
import type { NatsConnection } from "@nats-io/transport-node";
import { z } from "zod";
import { childrenOf } from "./datastore-client";
import type { StoragePaths } from "./storage-paths";

/** A detections file larger than this is not read into a reply. */
export const MAX_DETECTION_FILE_BYTES = 4 * 1024 * 1024;

/** Half-open pixel box [x0, y0, x1, y1], as libs/detection writes it. */
const Box = z.tuple([z.number(), z.number(), z.number(), z.number()]);
const DetectionFile = z.looseObject({
  embryos: z.array(z.looseObject({ bbox: Box, embryo_id: z.string().optional(), confidence: z.number().optional() })),
});

export interface ImageDetections {
  uid: string;
  detections: {
    uid: string;
    created: string;
    metadata: Record<string, unknown>;
    /** one box per detected object, for overlays */
    boxes: { x0: number; y0: number; x1: number; y1: number; label?: string; confidence?: number }[];
    /** the detections file as written, for anything beyond boxes */
    content: unknown;
  }[];
}

/** The detection items the DataStore lists as derived from an image, with their boxes read from disk. */
export async function detectionsOf(nc: NatsConnection, storage: StoragePaths, uid: string): Promise<ImageDetections> {
  const children = (await childrenOf(nc, uid)).filter((item) => item.data_type === "detection" && item.path?.endsWith(".json"));
  const detections = await Promise.all(
    children.map(async (item) => {
      const file = await storage.derivedFile(item.path!, `detections ${item.uid}`);
      if ((await stat(file)).size > MAX_DETECTION_FILE_BYTES) {
        return { uid: item.uid, created: item.created, metadata: item.metadata, boxes: [], content: { too_large: true } };
      }
      const content: unknown = JSON.parse(await readFile(file, "utf8"));
      const parsed = DetectionFile.safeParse(content);
      const boxes = parsed.success
        ? parsed.data.embryos.map((e) => ({
            x0: e.bbox[0],
            y0: e.bbox[1],
            x1: e.bbox[2],
            y1: e.bbox[3],
            ...(e.embryo_id !== undefined ? { label: e.embryo_id } : {}),
            ...(e.confidence !== undefined ? { confidence: e.confidence } : {}),
          }))
        : [];
      return { uid: item.uid, created: item.created, metadata: item.metadata, boxes, content };
    }),
  );
  return { uid, detections };
}
