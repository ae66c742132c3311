import { z } from "zod";
import { Dtype, SessionId } from "./common";
import { ExitStatus, RunPhase } from "./plan";
import { Uid } from "./uid";

/**
 * Bluesky event-model documents of a run, published by the plan runner on
 * `gently.run.<run>.doc.<kind>` into the JetStream stream GENTLY_RUNS, so a
 * client that connects late replays the run from its start. Times are Unix
 * seconds (float), as in the event model.
 */

const UnixTime = z.number().min(0);

export const RunStartDoc = z.object({
  uid: Uid,
  time: UnixTime,
  plan_name: z.string(),
  /** the parameters after validation, defaults filled in */
  plan_args: z.record(z.string(), z.unknown()),
  session_id: SessionId,
  /** progress units the run is expected to take (frames for acquisitions, one per other step) */
  num_points: z.number().int().min(0),
  versions: z.record(z.string(), z.string()),
});
export type RunStartDoc = z.infer<typeof RunStartDoc>;

export const DataKey = z.object({
  source: z.string(),
  dtype: z.enum(["number", "integer", "string", "boolean", "array", "object"]),
  shape: z.array(z.number().int().min(0)),
  units: z.string().optional(),
});
export type DataKey = z.infer<typeof DataKey>;

export const DescriptorDoc = z.object({
  uid: Uid,
  run_start: Uid,
  time: UnixTime,
  /** event stream name: "primary" (volumes and images), "motion", "illumination", "readings", "detection", and "result" (the plan's summary) */
  name: z.string(),
  data_keys: z.record(z.string(), DataKey),
});
export type DescriptorDoc = z.infer<typeof DescriptorDoc>;

export const EventDoc = z.object({
  uid: Uid,
  descriptor: Uid,
  time: UnixTime,
  /** 1-based within its descriptor */
  seq_num: z.number().int().min(1),
  data: z.record(z.string(), z.unknown()),
  timestamps: z.record(z.string(), UnixTime),
});
export type EventDoc = z.infer<typeof EventDoc>;

/** One volume (or image) file of the run. Its uid is the volume's uid. */
export const StreamResourceDoc = z.object({
  uid: Uid,
  run_start: Uid,
  data_key: z.string(),
  mimetype: z.literal("image/tiff; application=ome"),
  uri: z.string(),
  path: z.string(),
  shape: z.array(z.number().int().min(1)),
  dtype: Dtype,
  parameters: z.record(z.string(), z.unknown()),
});
export type StreamResourceDoc = z.infer<typeof StreamResourceDoc>;

/** Which frames of a resource belong to which event: indices are frame numbers in the file, stop exclusive. */
export const StreamDatumDoc = z.object({
  uid: Uid,
  stream_resource: Uid,
  descriptor: Uid,
  indices: z.object({ start: z.number().int().min(0), stop: z.number().int().min(0) }),
  seq_nums: z.object({ start: z.number().int().min(0), stop: z.number().int().min(0) }),
});
export type StreamDatumDoc = z.infer<typeof StreamDatumDoc>;

export const RunStopDoc = z.object({
  uid: Uid,
  run_start: Uid,
  time: UnixTime,
  exit_status: ExitStatus,
  reason: z.string(),
  plan_name: z.string(),
  /** events per stream name */
  num_events: z.record(z.string(), z.number().int().min(0)),
  volume_uids: z.array(Uid),
});
export type RunStopDoc = z.infer<typeof RunStopDoc>;

export const DOC_SCHEMAS = {
  start: RunStartDoc,
  descriptor: DescriptorDoc,
  event: EventDoc,
  stream_resource: StreamResourceDoc,
  stream_datum: StreamDatumDoc,
  stop: RunStopDoc,
} as const;
export type DocKind = keyof typeof DOC_SCHEMAS;
export const DOC_KINDS = Object.keys(DOC_SCHEMAS) as DocKind[];

/** A document with its kind, as clients iterate them. */
export type RunDocument = { [K in DocKind]: { kind: K; doc: z.infer<(typeof DOC_SCHEMAS)[K]> } }[DocKind];

export function isDocKind(kind: string): kind is DocKind {
  return Object.prototype.hasOwnProperty.call(DOC_SCHEMAS, kind);
}

/** Parses a document received on `gently.run.<run>.doc.<kind>`. */
export function parseRunDocument(kind: string, body: unknown): RunDocument {
  if (!isDocKind(kind)) throw new Error(`unknown document kind '${kind}'`);
  return { kind, doc: DOC_SCHEMAS[kind].parse(body) } as RunDocument;
}

/** Progress of a run on `gently.run.<run>.progress`: units done of total (frames for acquisitions). */
export const RunProgress = z.object({
  run_uid: Uid,
  done: z.number().min(0),
  total: z.number().min(0),
  phase: RunPhase,
  /** one line for people, e.g. "timepoint 2/5, frame 37/100" */
  message: z.string().optional(),
});
export type RunProgress = z.infer<typeof RunProgress>;
