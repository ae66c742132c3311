import type { NatsConnection } from "@nats-io/transport-node";
import { DeliverPolicy, jetstream, type Consumer } from "@nats-io/jetstream";
import { isTransientNatsError } from "./nats-errors";
import { retryWithBackoff } from "./retry";

export interface StoredMessage {
  subject: string;
  seq: number;
  data: Uint8Array;
}

/** How long to keep asking while JetStream does not answer (a NATS restart, a cluster electing a leader). */
const JETSTREAM_WAIT_MS = 60_000;

/** Retries an operation on JetStream while it is coming back; other errors (and a closed connection) are thrown at once. */
function whileJetStreamReturns<T>(nc: NatsConnection, op: () => Promise<T>): Promise<T> {
  return retryWithBackoff(op, {
    firstDelayMs: 250,
    maxDelayMs: 2_000,
    giveUpAfterMs: JETSTREAM_WAIT_MS,
    isRetryable: isTransientNatsError,
    shouldStop: () => nc.isClosed(),
  });
}

/** Where an ordered consumer starts: the stream's start, a time (only messages stored since then), or just after a sequence. */
interface ReadFrom {
  since?: Date;
  afterSeq?: number;
}

function orderedConsumer(nc: NatsConnection, stream: string, filterSubject: string, from: ReadFrom = {}): Promise<Consumer> {
  const start = from.since
    ? { opt_start_time: from.since.toISOString() }
    : from.afterSeq
      ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from.afterSeq + 1 }
      : { deliver_policy: DeliverPolicy.All };
  return jetstream(nc).consumers.get(stream, { filter_subjects: filterSubject, ...start });
}

export interface ReadStoredOptions extends ReadFrom {
  /** stop after this many messages */
  limit?: number;
}

/**
 * Messages a stream holds under one subject filter (optionally only those
 * stored since a time or after a sequence, at most `limit`), oldest first, as
 * of now (messages published while reading may or may not be included).
 * An ordered consumer, deleted when done: nothing is left on the server.
 */
export function readStored(nc: NatsConnection, stream: string, filterSubject: string, opts: ReadStoredOptions = {}): Promise<StoredMessage[]> {
  return whileJetStreamReturns(nc, () => readOnce(nc, stream, filterSubject, opts));
}

async function readOnce(nc: NatsConnection, stream: string, filterSubject: string, opts: ReadStoredOptions): Promise<StoredMessage[]> {
  const consumer = await orderedConsumer(nc, stream, filterSubject, opts);
  const limit = opts.limit ?? Infinity;
  const out: StoredMessage[] = [];
  try {
    const info = await consumer.info(true);
    if (info.num_pending === 0) return [];
    const messages = await consumer.consume({ max_messages: Math.min(limit, 256) });
    try {
      for await (const m of messages) {
        out.push({ subject: m.subject, seq: m.seq, data: m.data });
        if (m.info.pending === 0 || out.length >= limit) break;
      }
    } finally {
      await messages.close();
    }
  } finally {
    // An ordered consumer otherwise lingers on the server for 5 minutes after its last use.
    await consumer.delete().catch(() => undefined);
  }
  return out;
}
