import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { z } from "zod";
import { decodeJson, encodeJson } from "./codec";
import { processLiveness } from "./liveness";
import type { Logger } from "./logger";

export interface SubscribeOptions {
  logger: Logger;
  /** queue group, when instances of a service share the stream */
  queue?: string;
  /**
   * The service cannot work without this subscription (it lives as long as the process): when it
   * ends on its own (a permission revoked, the connection closed) the process exits to be
   * restarted. Named by what it is for, e.g. "volume outcomes".
   */
  requiredFor?: string;
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
  const sub = nc.subscribe(subject, {
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
  if (opts.requiredFor) processLiveness.require(`subscription ${subject} (${opts.requiredFor})`, sub.closed);
  return sub;
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
