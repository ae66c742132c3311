import type { NatsConnection } from "@nats-io/transport-node";
import { decodeJson, jetStreamOf } from "@gently/bus";
import { GentlyError, RunProgress, streams, subjects, type RunDocument } from "@gently/protocol";
import { bridgeMessage } from "./event-bridge";

/** Longest a replay may take before the request fails. */
const REPLAY_DEADLINE_MS = 10_000;

/** A run with more documents than this is cut short (and says so): a reply must stay bounded. */
export const MAX_RUN_DOCUMENTS = 20_000;

export interface RunDocuments {
  run_uid: string;
  documents: (RunDocument & { seq: number })[];
  /** the latest progress message, if the run published any */
  progress: RunProgress | null;
  truncated: boolean;
}

/**
 * Replays a run's documents from GENTLY_RUNS with an ordered consumer
 * filtered to gently.run.<run>.doc.*, up to what the stream holds now.
 */
export async function readRunDocuments(nc: NatsConnection, runUid: string): Promise<RunDocuments> {
  const { js, jsm } = await jetStreamOf(nc);
  const consumer = await js.consumers.get(streams.runs.name, { filter_subjects: subjects.run.docs(runUid) });
  const documents: RunDocuments["documents"] = [];
  let truncated = false;
  try {
    if ((await consumer.info(true)).num_pending > 0) {
      const messages = await consumer.consume();
      let caughtUp = false;
      // Messages removed from the stream after the count was taken would leave the loop waiting: bound it.
      const deadline = setTimeout(() => void messages.close(), REPLAY_DEADLINE_MS);
      try {
        for await (const m of messages) {
          const event = bridgeMessage("runs", m);
          if (event?.kind) documents.push({ kind: event.kind, doc: event.body, seq: m.seq } as RunDocument & { seq: number });
          if (documents.length >= MAX_RUN_DOCUMENTS && m.info.pending > 0) truncated = true;
          caughtUp = m.info.pending === 0;
          if (caughtUp || truncated) break;
        }
      } finally {
        clearTimeout(deadline);
        await messages.close();
      }
      if (!caughtUp && !truncated) throw new GentlyError("timeout", `replaying run ${runUid} did not reach the end of GENTLY_RUNS in ${REPLAY_DEADLINE_MS} ms`);
    }
  } finally {
    // an ordered consumer otherwise stays on the server for minutes: a page polling a run would pile them up
    await consumer.delete().catch(() => undefined);
  }
  const last = await jsm.streams.getMessage(streams.runs.name, { last_by_subj: subjects.run.progress(runUid) });
  const parsed = last ? RunProgress.safeParse(decodeJson(last.data)) : null;
  const progress = parsed?.success ? parsed.data : null;
  return { run_uid: runUid, documents, progress, truncated };
}
