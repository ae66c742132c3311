import type { NatsConnection } from "@nats-io/transport-node";
import { DeliverPolicy, jetstream, type ConsumerMessages } from "@nats-io/jetstream";

export interface StoredMessage {
  subject: string;
  seq: number;
  data: Uint8Array;
}

/**
 * Every message a stream holds under one subject filter, oldest first, as
 * of now (messages published while reading may or may not be included).
 * An ordered consumer: nothing to clean up, nothing left on the server.
 */
export async function readStored(nc: NatsConnection, stream: string, filterSubject: string): Promise<StoredMessage[]> {
  const consumer = await jetstream(nc).consumers.get(stream, { filter_subjects: filterSubject, deliver_policy: DeliverPolicy.All });
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
 * into new ones, until the caller stops iterating or calls close().
 */
export async function followStream(
  nc: NatsConnection,
  stream: string,
  filterSubject: string,
): Promise<{ messages: AsyncIterable<StoredMessage>; close(): Promise<void> }> {
  const consumer = await jetstream(nc).consumers.get(stream, { filter_subjects: filterSubject, deliver_policy: DeliverPolicy.All });
  const raw: ConsumerMessages = await consumer.consume();
  async function* iterate(): AsyncGenerator<StoredMessage> {
    try {
      for await (const m of raw) yield { subject: m.subject, seq: m.seq, data: m.data };
    } finally {
      await raw.close();
    }
  }
  return { messages: iterate(), close: async () => void (await raw.close()) };
}
