import type { NatsConnection } from "@nats-io/transport-node";
import { DeliverPolicy, jetstream, jetstreamManager, type Consumer, type ConsumerMessages, type MsgRequest } from "@nats-io/jetstream";
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
    isRetryable: (err) => err instanceof ReadOverdue || isTransientNatsError(err),
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

/**
 * One read may take this long; past it the read is abandoned (its consumer closed and deleted) and
 * counts as a timeout, which readStored retries. The pending count is the consumer's at creation:
 * messages gone before they are delivered (limits, a purge) would otherwise leave the read waiting
 * forever, and with it whoever waits for the read (a soak found the plan runner's replays stuck).
 */
const READ_DEADLINE_MS = 15_000;

/** A read abandoned at its deadline; retried like a JetStream that does not answer. */
class ReadOverdue extends Error {
  override readonly name = "ReadOverdue";
}

async function readOnce(nc: NatsConnection, stream: string, filterSubject: string, opts: ReadStoredOptions): Promise<StoredMessage[]> {
  const consumer = await orderedConsumer(nc, stream, filterSubject, opts);
  const limit = opts.limit ?? Infinity;
  const out: StoredMessage[] = [];
  let messages: ConsumerMessages | undefined;
  let overdue = false;
  const deadline = setTimeout(() => {
    overdue = true;
    void messages?.close();
  }, READ_DEADLINE_MS);
  try {
    const info = await consumer.info(true);
    if (info.num_pending === 0) return [];
    messages = await consumer.consume({ max_messages: Math.min(limit, 256) });
    try {
      for await (const m of messages) {
        out.push({ subject: m.subject, seq: m.seq, data: m.data });
        if (m.info.pending === 0 || out.length >= limit) break;
      }
    } finally {
      await bounded(messages.close());
    }
  } finally {
    clearTimeout(deadline);
    // An ordered consumer otherwise lingers on the server for 5 minutes after its last use.
    await bounded(consumer.delete().catch(() => undefined));
  }
  if (overdue) {
    throw new ReadOverdue(`reading ${filterSubject} from ${stream} took more than ${READ_DEADLINE_MS} ms (${out.length} messages read)`);
  }
  return out;
}

/** Waits for a clean-up at most a few seconds: a read must never hang on its own tidying. */
function bounded(work: Promise<unknown>): Promise<unknown> {
  return Promise.race([work, new Promise((r) => setTimeout(r, 2_000).unref())]);
}

/**
 * The messages a stream holds under one subject filter after a sequence, at most `limit`, oldest
 * first, read one by one with `STREAM.MSG.GET {seq, next_by_subj}`: no consumer is created, so
 * nothing can be left behind or stall, and a short read (a run's few documents) costs a few round
 * trips. For reads that start at a time, use readStored (the server's MSG.GET has no start time).
 * (nats.js types next_by_subj for direct gets only; STREAM.MSG.GET has taken it since nats-server 2.9.)
 */
export async function readBySubject(
  nc: NatsConnection,
  stream: string,
  filterSubject: string,
  opts: { afterSeq?: number; limit: number },
): Promise<StoredMessage[]> {
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  const out: StoredMessage[] = [];
  let seq = (opts.afterSeq ?? 0) + 1;
  while (out.length < opts.limit) {
    const m = await whileJetStreamReturns(nc, () => jsm.streams.getMessage(stream, { seq, next_by_subj: filterSubject } as MsgRequest));
    if (m === null) break;
    out.push({ subject: m.subject, seq: m.seq, data: m.data });
    seq = m.seq + 1;
  }
  return out;
}
