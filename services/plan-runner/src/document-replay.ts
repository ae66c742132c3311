import type { NatsConnection } from "@nats-io/transport-node";
import { decodeJson, readBySubject } from "@gently/bus";
import { GentlyError, parseRunDocument, streams, subjects, type DocumentsReply, type ParsedRequestOf, type plan } from "@gently/protocol";

/** Pages read from GENTLY_RUNS at once. */
const CONCURRENT_READS = 4;
/** Requests that may wait for a read; past this a flood is refused, not queued. */
const MAX_WAITING = 64;

/**
 * Pages of runs' documents from GENTLY_RUNS. The plan runner serves this so
 * that the copilot replays runs without any JetStream API of its own: a
 * consumer-create grant would let it point deliveries at any subject. Pages
 * are read message by message (MSG.GET next by subject), so no consumer is
 * made for them at all, and reads are bounded so a flood of replay requests
 * waits or is refused instead of piling up on the server.
 */
export class DocumentReplay {
  private reading = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly nc: NatsConnection) {}

  async page(req: ParsedRequestOf<typeof plan.documents>): Promise<DocumentsReply> {
    await this.turn();
    try {
      return await this.read(req);
    } finally {
      this.reading--;
      this.waiting.shift()?.();
    }
  }

  private async turn(): Promise<void> {
    if (this.reading < CONCURRENT_READS) {
      this.reading++;
      return;
    }
    if (this.waiting.length >= MAX_WAITING) {
      throw new GentlyError("unavailable", `replays: ${MAX_WAITING} requests are waiting, the limit; try again shortly`);
    }
    // the finishing read hands its slot over: reading stays counted
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private async read(req: ParsedRequestOf<typeof plan.documents>): Promise<DocumentsReply> {
    const stored = await readBySubject(this.nc, streams.runs.name, subjects.run.docs(req.run_uid), { afterSeq: req.after_seq, limit: req.limit + 1 });
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
}
