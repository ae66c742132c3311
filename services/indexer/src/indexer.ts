import { readFileSync } from "node:fs";
import type { NatsConnection } from "@nats-io/transport-node";
import { consumeDurable, ensureStream, jetStreamOf, startMicroService, type Logger } from "@gently/bus";
import { DataStore } from "@gently/datastore";
import { streams } from "@gently/protocol";
import { z } from "zod";
import { applyDataEvent } from "./data-events";
import { datastoreHandlers } from "./endpoints";

const VERSION = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;

/** Name of the indexer's durable consumer on GENTLY_DATA. */
export const INDEXER_DURABLE = "indexer";

/**
 * How long a delivered event may stay unacked before JetStream redelivers it.
 * Indexing one takes milliseconds; a short wait means events held by an
 * indexer that was killed are indexed soon after it restarts.
 */
export const INDEXER_ACK_WAIT_MS = 5_000;

export interface IndexerOptions {
  nc: NatsConnection;
  storage: string;
  logger: Logger;
}

/**
 * Opens the DataStore (holding the index lock, so no rebuild runs beside it),
 * consumes GENTLY_DATA durably (ack after the row is committed; redelivery is
 * harmless because registration is idempotent) and serves gently.datastore.*.
 */
export async function startIndexer({ nc, storage, logger }: IndexerOptions): Promise<{ stop(): Promise<void>; store: DataStore }> {
  const store = new DataStore(storage, { holdLock: "indexer" });
  try {
    const { jsm } = await jetStreamOf(nc);
    await ensureStream(jsm, streams.data);
    const service = await startMicroService(nc, {
      name: "indexer",
      version: VERSION,
      description: "UID index of the files under the storage root",
      logger,
      handlers: datastoreHandlers(store),
    });
    // One durable over the whole stream (nats-server 2.9 takes one filter): volume.* and derived.* alike.
    const consumer = await consumeDurable(nc, {
      stream: streams.data.name,
      durable: INDEXER_DURABLE,
      schema: z.unknown(),
      logger,
      ackWaitMs: INDEXER_ACK_WAIT_MS,
      handler: async (body, subject) => applyDataEvent(store, logger, subject, body),
    });
    logger.info({ index: store.db.name, items: store.count() }, "indexing");
    return {
      store,
      async stop() {
        await consumer.stop();
        await service.stop();
        store.close();
      },
    };
  } catch (err) {
    store.close();
    throw err;
  }
}
