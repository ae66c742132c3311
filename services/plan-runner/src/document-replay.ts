import type { NatsConnection } from "@nats-io/transport-node";
import { decodeJson } from "@gently/bus";
import { readStored } from "@gently/client";
import { parseRunDocument, streams, subjects, type DocumentsReply, type ParsedRequestOf, type plan } from "@gently/protocol";

/**
 * One page of a run's documents from GENTLY_RUNS. The plan runner serves this
 * so that the copilot replays runs without any JetStream API of its own: a
 * consumer-create grant would let it point deliveries at any subject.
 */
export async function readRunDocuments(nc: NatsConnection, req: ParsedRequestOf<typeof plan.documents>): Promise<DocumentsReply> {
  const stored = await readStored(nc, streams.runs.name, subjects.run.docs(req.run_uid), { afterSeq: req.after_seq, limit: req.limit + 1 });
  const documents: DocumentsReply["documents"] = [];
  for (const m of stored.slice(0, req.limit)) {
    const kind = m.subject.slice(m.subject.lastIndexOf(".") + 1);
    // only what the plan runner wrote: anything else stored under a run's subject fails its schema and is left out
    try {
      documents.push({ seq: m.seq, kind, doc: parseRunDocument(kind, decodeJson(m.data)).doc as Record<string, unknown> });
    } catch {
      continue;
    }
  }
  return { documents, more: stored.length > req.limit };
}
