import type { NatsConnection } from "@nats-io/transport-node";
import { envValue } from "@gently/config";
import { isConsumerNotFound, isStreamNameInUse, isStreamNotFound } from "./nats-errors";
import { retryWithBackoff } from "./retry";
import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  StorageType,
  type ConsumerConfig,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type PubAck,
  type StreamConfig,
} from "@nats-io/jetstream";
import type { z } from "zod";
import { decodeJson, encodeJson } from "./codec";
import { processLiveness } from "./liveness";
import type { Logger } from "./logger";

export interface StreamSpec {
  name: string;
  subjects: readonly string[];
  /** dedupe window for Nats-Msg-Id (uid) */
  duplicateWindowMs?: number;
  replicas?: number;
  storage?: "file" | "memory";
}

const NANOS_PER_MS = 1_000_000;

export interface EnsureStreamOptions {
  /**
   * The stream's one owner brings an existing stream's subjects and settings
   * up to date; every other account only creates it when missing, with the
   * same settings (nats.conf lets only the owner update a stream).
   */
  owner?: boolean;
}

/** Creates the stream when missing; its owner also updates an existing one. Safe to call from every process. */
export async function ensureStream(jsm: JetStreamManager, spec: StreamSpec, opts: EnsureStreamOptions = {}): Promise<void> {
  const config: Partial<StreamConfig> & { name: string } = {
    name: spec.name,
    subjects: [...spec.subjects],
    storage: spec.storage === "memory" ? StorageType.Memory : StorageType.File,
    duplicate_window: (spec.duplicateWindowMs ?? 24 * 3600_000) * NANOS_PER_MS,
    num_replicas: spec.replicas ?? envValue("GENTLY_JS_REPLICAS"),
  };
  try {
    await jsm.streams.info(spec.name);
    if (opts.owner) await jsm.streams.update(spec.name, config);
  } catch (err) {
    if (!isStreamNotFound(err)) throw err;
    try {
      await jsm.streams.add(config);
    } catch (addErr) {
      // another process created it between our info and add
      if (!isStreamNameInUse(addErr)) throw addErr;
    }
  }
}

export async function jetStreamOf(nc: NatsConnection): Promise<{ js: JetStreamClient; jsm: JetStreamManager }> {
  return { js: jetstream(nc), jsm: await jetstreamManager(nc) };
}

export interface DurablePublishOptions {
  /** keep retrying through a NATS restart or a cluster fail-over this long (default 60 s) */
  giveUpAfterMs?: number;
  /** stop retrying early (e.g. the service is stopping) */
  shouldStop?: () => boolean;
  logger?: Logger;
}

const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 5_000;

/**
 * Publishes into a stream, deduplicated by msgId (a uid): a repeat of the
 * same uid is stored once, which makes retrying safe. A publish that is not
 * acknowledged (NATS restarting, JetStream electing a leader) is retried with
 * backoff until giveUpAfterMs; a body that fails its schema is never sent.
 */
export async function publishDurable<S extends z.ZodType>(
  js: JetStreamClient,
  subject: string,
  schema: S,
  body: z.input<S>,
  msgId: string,
  opts: DurablePublishOptions = {},
): Promise<PubAck> {
  const payload = encodeJson(schema.parse(body));
  return retryWithBackoff(() => js.publish(subject, payload, { msgID: msgId, timeout: 10_000 }), {
    firstDelayMs: FIRST_RETRY_MS,
    maxDelayMs: MAX_RETRY_MS,
    giveUpAfterMs: opts.giveUpAfterMs ?? 60_000,
    shouldStop: opts.shouldStop,
    onRetry: (err, delayMs) => opts.logger?.warn({ subject, msgId, err: String(err), retry_ms: delayMs }, "publish not acknowledged; retrying"),
  });
}

export interface DurableConsumerSpec<S extends z.ZodType> {
  stream: string;
  durable: string;
  /** one subject filter (nats-server 2.9 takes a single one); omit for the whole stream */
  filterSubject?: string;
  schema: S;
  logger: Logger;
  /** how long a message may be in hand before it is redelivered */
  ackWaitMs?: number;
  handler: (body: z.output<S>, subject: string) => Promise<void>;
}

/**
 * A durable pull consumer that acks only after the handler succeeded, so a
 * consumer that was down, killed or restarted gets every message it missed.
 * A body that fails its schema is terminated (never redelivered); a handler
 * failure is nak'ed with a delay and retried.
 */
export async function consumeDurable<S extends z.ZodType>(
  nc: NatsConnection,
  spec: DurableConsumerSpec<S>,
): Promise<{ stop: () => Promise<void>; done: Promise<void> }> {
  const { js, jsm } = await jetStreamOf(nc);
  const config = {
    durable_name: spec.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: spec.filterSubject,
    ack_wait: (spec.ackWaitMs ?? 30_000) * NANOS_PER_MS,
    max_deliver: -1,
  };
  await ensureDurableConsumer(jsm, spec.stream, config, spec.logger);
  const consumer = await js.consumers.get(spec.stream, spec.durable);
  // A deleted consumer (or stream) ends the loop instead of waiting forever for it to come back:
  // the process then exits and recreates it on restart. Before, it indexed nothing and logged nothing.
  const messages: ConsumerMessages = await consumer.consume({ max_messages: 64, abort_on_missing_resource: true });
  const part = `consumer ${spec.durable} on ${spec.stream}`;
  void watchConsumer(messages, part, spec.logger);
  const done = (async () => {
    for await (const m of messages) {
      processLiveness.recover(part);
      let body: z.output<S>;
      try {
        body = spec.schema.parse(decodeJson(m.data));
      } catch (err) {
        spec.logger.error({ subject: m.subject, seq: m.seq, err: String(err) }, "terminating a message that fails its schema");
        m.term("schema");
        continue;
      }
      try {
        await spec.handler(body, m.subject);
        m.ack();
      } catch (err) {
        spec.logger.error({ subject: m.subject, seq: m.seq, err }, "handler failed; will be redelivered");
        m.nak(2_000);
      }
    }
  })();
  processLiveness.require(part, done);
  const configWatch = setInterval(() => void endIfChanged(jsm, spec, config, messages), CONSUMER_CHECK_MS);
  void done.finally(() => clearInterval(configWatch));
  return {
    stop: async () => {
      clearInterval(configWatch);
      await messages.close();
      await done;
    },
    done,
  };
}

/** How often a durable consumer's config is compared with ours. */
const CONSUMER_CHECK_MS = 5_000;

/**
 * A consumer replaced under us (another filter, deliver or ack policy) would
 * quietly feed us the wrong messages; end the loop instead, so the process
 * exits, is restarted and recreates it.
 */
async function endIfChanged(
  jsm: JetStreamManager,
  spec: { stream: string; durable: string; logger: Logger },
  config: Partial<ConsumerConfig>,
  messages: ConsumerMessages,
): Promise<void> {
  const found = await jsm.consumers.info(spec.stream, spec.durable).then(
    (info) => info.config,
    () => null, // gone: the consume loop notices that itself
  );
  if (!found) return;
  // the server reports "no filter" as an empty string
  const setting = (value: unknown) => (value === "" || value === null ? undefined : value);
  const changed = (["filter_subject", "deliver_policy", "ack_policy", "max_deliver"] as const).filter((key) => setting(found[key]) !== setting(config[key]));
  if (changed.length === 0) return;
  spec.logger.error(
    { consumer: spec.durable, stream: spec.stream, changed: Object.fromEntries(changed.map((k) => [k, { ours: config[k], found: found[k] }])) },
    "durable consumer was changed by someone else; ending so it is recreated",
  );
  await messages.close();
}

/**
 * Creates the durable consumer, or brings an existing one to our config. One
 * whose config cannot be updated (someone replaced it with another deliver
 * policy, say) is deleted and created again: the handler must be idempotent,
 * as redelivery of everything the stream holds follows.
 */
async function ensureDurableConsumer(
  jsm: JetStreamManager,
  stream: string,
  config: Partial<ConsumerConfig> & { durable_name: string },
  logger: Logger,
): Promise<void> {
  const name = config.durable_name;
  let existing: ConsumerConfig;
  try {
    existing = (await jsm.consumers.info(stream, name)).config;
  } catch (err) {
    if (!isConsumerNotFound(err)) throw err;
    await jsm.consumers.add(stream, config);
    return;
  }
  try {
    await jsm.consumers.update(stream, name, config);
  } catch (err) {
    logger.warn(
      { consumer: name, stream, found: { deliver_policy: existing.deliver_policy, ack_policy: existing.ack_policy, filter_subject: existing.filter_subject }, err: String(err) },
      "durable consumer has another config that cannot be updated; recreating it",
    );
    await jsm.consumers.delete(stream, name);
    await jsm.consumers.add(stream, config);
  }
}

/** Logs what the client reports about a consumer and marks it degraded while it gets nothing (missed heartbeats, gone). */
async function watchConsumer(messages: ConsumerMessages, part: string, logger: Logger): Promise<void> {
  for await (const status of messages.status()) {
    switch (status.type) {
      case "heartbeats_missed":
        processLiveness.degrade(part, `missed ${status.count} heartbeats`);
        logger.warn({ consumer: part, count: status.count }, "consumer missed its heartbeats");
        break;
      case "consumer_deleted":
      case "consumer_not_found":
      case "stream_not_found":
        processLiveness.degrade(part, status.type.replaceAll("_", " "));
        logger.error({ consumer: part, status: status.type }, "consumer is gone");
        break;
      case "heartbeat":
        processLiveness.recover(part);
        break;
      default:
        break;
    }
  }
}
