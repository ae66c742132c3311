import type { GentlyClient } from "@gently/client";
import {
  GentlyError,
  inCallersTerms,
  type DescriptorDoc,
  type EventDoc,
  type ExitStatus,
  type PlanCall,
  type RunStartDoc,
  type RunStopDoc,
  type StreamDatumDoc,
  type StreamResourceDoc,
  type Uid,
  type VolumeRef,
} from "@gently/protocol";

/** A run's documents, grouped the way the copilot's client reads them. */
export interface RunDocuments {
  start: RunStartDoc;
  descriptors: DescriptorDoc[];
  events: EventDoc[];
  /** one per file written: uid, path, shape, dtype (never pixels) */
  stream_resources: StreamResourceDoc[];
  stream_datums: StreamDatumDoc[];
  stop: RunStopDoc;
}

/** What the API answers for a finished run. */
export interface RunReport {
  success: boolean;
  /** the stop document's reason when the run did not succeed */
  msg: string;
  /** the run's uid */
  uid: Uid;
  plan: string;
  exit_status: ExitStatus;
  /** the plan's summary (its "result" event) */
  result: Record<string, unknown> | null;
  /** every file the run wrote: {uid, path, shape, dtype, session_id} */
  volumes: VolumeRef[];
  documents: RunDocuments;
}

/**
 * Submits the plan (in the request's session, else the one the copilot passed
 * among the parameters) and follows its documents to the stop document. A refusal
 * at submit (unknown plan, bad parameter, limit violation) is thrown with
 * the field named as the caller named it.
 */
export async function runToEnd(client: GentlyClient, call: PlanCall, session_id?: string): Promise<RunReport> {
  let handle;
  try {
    const session = session_id ?? call.session_id;
    handle = await client.submit(call.plan, call.params, session ? { session_id: session } : {});
  } catch (err) {
    throw err instanceof GentlyError ? inCallersTerms(err, call) : err;
  }
  let start: RunStartDoc | null = null;
  const descriptors: DescriptorDoc[] = [];
  const events: EventDoc[] = [];
  const stream_resources: StreamResourceDoc[] = [];
  const stream_datums: StreamDatumDoc[] = [];
  for await (const d of handle.documents()) {
    switch (d.kind) {
      case "start":
        start = d.doc;
        break;
      case "descriptor":
        descriptors.push(d.doc);
        break;
      case "event":
        events.push(d.doc);
        break;
      case "stream_resource":
        stream_resources.push(d.doc);
        break;
      case "stream_datum":
        stream_datums.push(d.doc);
        break;
      case "stop": {
        if (!start) throw new GentlyError("internal", `run ${handle.run_uid} has a stop document without a start`);
        const stop = d.doc;
        const resultStream = descriptors.find((desc) => desc.name === "result")?.uid;
        const summary = events.filter((e) => e.descriptor === resultStream).at(-1);
        return {
          success: stop.exit_status === "success",
          msg: stop.exit_status === "success" ? "" : stop.reason,
          uid: handle.run_uid,
          plan: start.plan_name,
          exit_status: stop.exit_status,
          result: summary?.data ?? null,
          volumes: stream_resources.map((r) => ({ uid: r.uid, path: r.path, shape: r.shape, dtype: r.dtype, session_id: start!.session_id }) as VolumeRef),
          documents: { start, descriptors, events, stream_resources, stream_datums, stop },
        };
      }
    }
  }
  throw new GentlyError("internal", `the documents of run ${handle.run_uid} ended without a stop document`);
}
