import type { NatsConnection } from "@nats-io/transport-node";
import { Kvm, type KV } from "@nats-io/kv";
import { z } from "zod";
import { decodeJson, encodeJson, type Logger } from "@gently/bus";
import { envValue } from "@gently/config";
import { buckets, QueuedRun } from "@gently/protocol";

/** The one key: the whole queue in order (at most GENTLY_PLAN_QUEUE_MAX small entries), so an order change is one atomic write. */
const KEY = "queued";
const SavedQueue = z.array(QueuedRun);

/**
 * The plan runner's queue in JetStream KV: written on every change (a submit
 * is answered only once its run is stored), read back at start, so runs
 * queued when the plan runner died run when it is back.
 */
export class QueueStore {
  private writes: Promise<void> = Promise.resolve();

  private constructor(
    private readonly kv: KV,
    private readonly logger: Logger,
  ) {}

  static async open(nc: NatsConnection, logger: Logger): Promise<QueueStore> {
    const kv = await new Kvm(nc).create(buckets.planQueue, { history: 1, replicas: envValue("GENTLY_JS_REPLICAS") });
    return new QueueStore(kv, logger);
  }

  /** The queue as last stored; one that does not read back as a queue is reported and dropped, not run. */
  async load(): Promise<QueuedRun[]> {
    const entry = await this.kv.get(KEY);
    if (!entry || entry.operation !== "PUT" || entry.length === 0) return [];
    const parsed = SavedQueue.safeParse(decodeJson(entry.value));
    if (!parsed.success) {
      this.logger.error({ issues: parsed.error.issues.slice(0, 3) }, "the stored queue is not a queue; starting with an empty one");
      return [];
    }
    return parsed.data;
  }

  /** Stores the queue; writes happen in the order asked, and the promise says when this one is stored. */
  save(runs: readonly QueuedRun[]): Promise<void> {
    const body = encodeJson(runs);
    const write = this.writes.then(async () => {
      await this.kv.put(KEY, body);
    });
    this.writes = write.catch((err) => this.logger.error({ err: String(err) }, "could not store the queue"));
    return write;
  }
}
