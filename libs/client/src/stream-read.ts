import type { NatsConnection } from "@nats-io/transport-node";
import { DeliverPolicy, jetstream, type Consumer, type ConsumerMessages } from "@nats-io/jetstream";

export interface StoredMessage {
  subject: string;
  seq: number;
  data: Uint8Array;
}

/** How long to keep asking while JetStream does not answer (a NATS restart, a cluster electing a leader). */
const JETSTREAM_WAIT_MS = 60_000;

function isTransient(err: unknown): boolean {
  const e = err as Error;
  return /timeout|no responders|503|not enabled|unavailable|leader/i.test(`${e?.name ?? ""} ${e?.message ?? String(err)}`);
}

/** Retries an operation on JetStream while it is coming back; other errors (and a closed connection) are thrown at once. */
async function whileJetStreamReturns<T>(nc: NatsConnection, op: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + JETSTREAM_WAIT_MS;
  for (let delay = 250; ; delay = Math.min(delay * 2, 2_000)) {
    try {
      return await op();
    } catch (err) {
      if (nc.isClosed() || !isTransient(err) || Date.now() + delay > deadline) throw err;
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/** An ordered consumer from the stream's start, or from a time (only messages stored since then). */
function orderedConsumer(nc: NatsConnection, stream: string, filterSubject: string, since?: Date): Promise<Consumer> {
  return jetstream(nc).consumers.get(
    stream,
    since
      ? { filter_subjects: filterSubject, opt_start_time: since.toISOString() }
      : { filter_subjects: filterSubject, deliver_policy: DeliverPolicy.All },
  );
}

/**
 * Every message a stream holds under one subject filter (optionally only
 * those stored since a time), oldest first, as of now (messages published
 * while reading may or may not be included).
 * An ordered consumer: nothing to clean up, nothing left on the server.
 */
export function readStored(nc: NatsConnection, stream: string, filterSubject: string, opts: { since?: Date } = {}): Promise<StoredMessage[]> {
  return whileJetStreamReturns(nc, () => readOnce(nc, stream, filterSubject, opts.since));
}

async function readOnce(nc: NatsConnection, stream: string, filterSubject: string, since?: Date): Promise<StoredMessage[]> {
  const consumer = await orderedConsumer(nc, stream, filterSubject, since);
  const info = await consumer.info(true);
  if (info.num_pending === 0) return [];
  const out: StoredMessage[] = [];
  const messages = await consumer.consume();
  try {
    for await (const m of messages) {
      out.push({ subject: m.subject, seq: m.seq, data: m.data });
      if (m.info.pending === 0) break;
    }
  } finally {
    await messages.close();
  }
  return out;
}

/**
 * Follows a stream under one subject filter from its first message and on
 * into new ones, until the caller stops iterating or calls close(). The
 * consumer resumes where it was after a reconnect.
 */
export async function followStream(
  nc: NatsConnection,
  stream: string,
  filterSubject: string,
): Promise<{ messages: AsyncIterable<StoredMessage>; close(): Promise<void> }> {
  const raw: ConsumerMessages = await whileJetStreamReturns(nc, async () => (await orderedConsumer(nc, stream, filterSubject)).consume());
  async function* iterate(): AsyncGenerator<StoredMessage> {
    try {
      for await (const m of raw) yield { subject: m.subject, seq: m.seq, data: m.data };
    } finally {
      await raw.close();
    }
  }
  return { messages: iterate(), close: async () => void (await raw.close()) };
}
