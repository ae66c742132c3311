import { NoRespondersError, RequestError, TimeoutError } from "@nats-io/transport-node";
import { JetStreamApiCodes, JetStreamApiError, JetStreamError } from "@nats-io/jetstream";
import { jserrors } from "@nats-io/jetstream/internal";

/**
 * What nats.js v3 errors mean, by their types and codes (never by their
 * messages, which change between releases).
 */

/** JetStream API error code of a stream name already taken (here: another process created it first). */
const STREAM_NAME_IN_USE = 10058;

/** The stream asked for does not exist. */
export function isStreamNotFound(err: unknown): boolean {
  return err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound;
}

/** The consumer asked for does not exist. */
export function isConsumerNotFound(err: unknown): boolean {
  return err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound;
}

/** A stream of that name exists already. */
export function isStreamNameInUse(err: unknown): boolean {
  return err instanceof JetStreamApiError && err.code === STREAM_NAME_IN_USE;
}

/** Nobody subscribes to the subject of a request. */
export function isNoResponders(err: unknown): boolean {
  return err instanceof NoRespondersError || (err instanceof RequestError && err.isNoResponders());
}

/** A request's reply did not come in time. */
export function isRequestTimeout(err: unknown): boolean {
  return err instanceof TimeoutError || (err instanceof RequestError && err.cause instanceof TimeoutError);
}

/**
 * A failure that goes away by itself: no answer in time, nobody listening yet
 * (NATS or JetStream restarting), JetStream not (yet) enabled, or JetStream
 * answering 503 while a cluster elects a leader.
 */
export function isTransientNatsError(err: unknown): boolean {
  if (isNoResponders(err) || isRequestTimeout(err)) return true;
  if (err instanceof jserrors.JetStreamNotEnabled) return true;
  if (err instanceof JetStreamApiError) return err.status === 503 || err.code === JetStreamApiCodes.JetStreamNotEnabledForAccount;
  if (err instanceof JetStreamError) return "code" in err && (err as { code: unknown }).code === 503;
  return false;
}
