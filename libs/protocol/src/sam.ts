import { z } from "zod";
import { finite } from "./common";
import { endpoint } from "./endpoint";
import { subjects } from "./subjects";
import { Uid } from "./uid";

/**
 * The SAM service finds embryos in an image or volume by uid: a classical
 * candidate stage, then (when model files are configured) Segment Anything
 * with each candidate box as prompt. Results are files under
 * {storage}/derived/ announced on gently.derived.written; the reply carries
 * only the small per-embryo records and where the files are.
 */

export const DetectionMethod = z.enum(["sam", "classical"]);
export type DetectionMethod = z.infer<typeof DetectionMethod>;

const PixelIndex = z.number().int().min(0);

export const DetectOptions = z
  .object({
    /** "auto": SAM when model files are configured, else classical; "sam" refuses when SAM is not available */
    method: z.enum(["auto", "sam", "classical"]).default("auto"),
    /** whether embryos are brighter or darker than the background (brightfield: dark) */
    polarity: z.enum(["auto", "bright", "dark"]).default("auto"),
    /** area limits of a candidate; default from the pixel size around a 50×30 µm embryo */
    min_area_um2: finite().positive().optional(),
    max_area_um2: finite().positive().optional(),
    /** drop candidates touching the image border (their centroid is biased) */
    exclude_border: z.boolean().default(false),
    /** padding around each candidate box before it prompts SAM */
    box_padding_px: z.number().int().min(0).max(512).default(20),
    /** pick the best of SAM's three multimask outputs (false: the single-mask output) */
    multimask: z.boolean().default(true),
    /** for a volume: which channel (camera) to project */
    channel: z.number().int().min(0).default(0),
  })
  .strict()
  .refine((o) => o.min_area_um2 === undefined || o.max_area_um2 === undefined || o.min_area_um2 < o.max_area_um2, {
    message: "min_area_um2 must be below max_area_um2",
    path: ["min_area_um2"],
  });
export type DetectOptions = z.input<typeof DetectOptions>;

export const DetectRequest = z
  .object({
    /** an image (snap) or volume under {storage}/volumes/ */
    image_uid: Uid,
    options: DetectOptions.optional(),
    /** the run that asked, recorded on the derived items (default: the image's run) */
    run_uid: Uid.optional(),
  })
  .strict();
export type DetectRequest = z.input<typeof DetectRequest>;

export const DetectedEmbryo = z.object({
  /** embryo_1, embryo_2, … in detection order */
  embryo_id: z.string(),
  /** value of this embryo's pixels in the label mask */
  label: z.number().int().min(1),
  method: DetectionMethod,
  /** centroid in pixel-index coordinates (column, row) */
  pixel_x: finite(),
  pixel_y: finite(),
  /** half-open pixel box [x0, y0, x1, y1] */
  bbox: z.tuple([PixelIndex, PixelIndex, PixelIndex, PixelIndex]),
  area_pixels: z.number().int().min(0),
  area_um2: finite().min(0),
  circularity: finite(),
  /** classical: contrast-based score; SAM: predicted IoU; in [0, 1] */
  confidence: z.number().min(0).max(1),
  /** centroid on the stage (the image centre is the stage position of the image) */
  stage_x_um: finite(),
  stage_y_um: finite(),
});
export type DetectedEmbryo = z.infer<typeof DetectedEmbryo>;

export const DetectReply = z.object({
  image_uid: Uid,
  /** "sam" only when Segment Anything drew the outlines; never claimed for the classical stage */
  method: DetectionMethod,
  embryos: z.array(DetectedEmbryo),
  /** the detections JSON (data_type "detection", parent the image) */
  detection_uid: Uid,
  detections_path: z.string(),
  /** the label mask OME-TIFF (data_type "analysis", parent the image), one label per embryo, 0 background */
  mask_uid: Uid,
  mask_path: z.string(),
  /** what was searched: the image itself, or a volume's max projection */
  image: z.object({
    source: z.enum(["image", "max_projection"]),
    width: z.number().int().min(1),
    height: z.number().int().min(1),
    pixel_size_um: finite().positive(),
    stage_x_um: finite(),
    stage_y_um: finite(),
  }),
  /** the SAM embedding came from the cache (the encoder did not run again) */
  embedding_cached: z.boolean(),
  /** request to reply */
  latency_ms: finite().min(0),
  timings_ms: z.object({
    load: finite().min(0),
    classical: finite().min(0),
    sam_embed: finite().min(0),
    sam_decode: finite().min(0),
    write: finite().min(0),
  }),
});
export type DetectReply = z.infer<typeof DetectReply>;

export const SamStatus = z.object({
  /** SAM is ready to use */
  model_loaded: z.boolean(),
  /** not_configured: no model files set (classical only); loading; ready; failed: configured but unusable */
  state: z.enum(["not_configured", "loading", "ready", "failed"]),
  /** one line: why SAM is not loaded, or what is loaded */
  reason: z.string(),
  /** the load error, naming the file, when state is "failed" */
  error: z.string().nullable(),
  encoder_path: z.string().nullable(),
  decoder_path: z.string().nullable(),
  execution_provider: z.string().nullable(),
  /** latency of the last detect request, and of its encoder and decoder runs */
  last_latency_ms: finite().nullable(),
  last_encoder_ms: finite().nullable(),
  last_decoder_ms: finite().nullable(),
  encoder_runs: z.number().int().min(0),
  cached_embeddings: z.number().int().min(0),
  detections: z.number().int().min(0),
});
export type SamStatus = z.infer<typeof SamStatus>;

export const sam = {
  detect: endpoint(
    "detect",
    subjects.sam.detect,
    DetectRequest,
    DetectReply,
    "find embryos in an image or volume by uid; writes detections JSON and a label mask under derived/",
  ),
  status: endpoint("status", subjects.sam.status, z.object({}), SamStatus, "whether SAM models are loaded (or why not), files, execution provider, last latency"),
} as const;
