import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { z } from "zod";
import { decodeJson, encodeJson } from "./codec";
import type { Logger } from "./logger";

export interface SubscribeOptions {
  logger: Logger;
  /** queue group, when instances of a service share the stream */
  queue?: string;
}

/**
 * Subscribes with validation: a body that fails its schema is logged and
 * skipped, a handler that throws is logged; neither ends the subscription.
 */
export function subscribeValidated<S extends z.ZodType>(
  nc: NatsConnection,
  subject: string,
  schema: S,
  handler: (body: z.output<S>, subject: string, reply?: string) => Promise<void> | void,
  opts: SubscribeOptions,
): Subscription {
  return nc.subscribe(subject, {
    queue: opts.queue,
    callback: (err, msg) => {
      if (err) {
        opts.logger.error({ err, subject }, "subscription failed");
        return;
      }
      let body: z.output<S>;
      try {
        body = schema.parse(decodeJson(msg.data));
      } catch (parseErr) {
        opts.logger.warn({ subject: msg.subject, err: String(parseErr) }, "dropped a message that fails its schema");
        return;
      }
      Promise.resolve(handler(body, msg.subject, msg.reply)).catch((handlerErr) =>
        opts.logger.error({ err: handlerErr, subject: msg.subject }, "message handler failed"),
      );
    },
  });
}

/** Publishes a body after checking it against its schema (a bug here must not reach other processes). */
export function publishValidated<S extends z.ZodType>(
  nc: NatsConnection,
  subject: string,
  schema: S,
  body: z.input<S>,
): void {
  nc.publish(subject, encodeJson(schema.parse(body)));
}
