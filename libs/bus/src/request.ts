import type { NatsConnection, Msg } from "@nats-io/transport-node";
import { ServiceError } from "@nats-io/services";
import { ErrorBody, GentlyError, type EndpointContract, type ReplyOf, type RequestOf } from "@gently/protocol";
import { decodeJson, encodeJson } from "./codec";
import { isNoResponders, isRequestTimeout } from "./nats-errors";

export interface CallOptions {
  timeoutMs?: number;
}

/** Reads an error reply (micro-services headers plus our body) back into a GentlyError. */
export function errorOf(msg: Msg): GentlyError | null {
  if (!ServiceError.isServiceError(msg)) return null;
  try {
    const body = ErrorBody.safeParse(decodeJson(msg.data));
    if (body.success) return GentlyError.fromBody(body.data);
  } catch {
    // fall through to the headers
  }
  const header = ServiceError.toServiceError(msg);
  return new GentlyError("internal", header?.message ?? "unknown service error");
}

/**
 * Typed request/reply: the body is checked against the contract before it
 * leaves, the reply after it arrives, and an error reply is thrown as the
 * same GentlyError the service raised.
 */
export async function call<E extends EndpointContract>(
  nc: NatsConnection,
  contract: E,
  body: RequestOf<E>,
  opts: CallOptions = {},
): Promise<ReplyOf<E>> {
  const checked = contract.request.safeParse(body);
  if (!checked.success) throw GentlyError.fromZod(checked.error, "", body);
  let reply: Msg;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  try {
    reply = await nc.request(contract.subject, encodeJson(checked.data), { timeout: timeoutMs });
  } catch (err) {
    throw transportError(err, contract.subject, timeoutMs);
  }
  const error = errorOf(reply);
  if (error) throw error;
  return contract.reply.parse(decodeJson(reply.data)) as ReplyOf<E>;
}

/** What the caller waited for and how long, so a CLI or copilot can say it (never a bare "timeout"). */
function transportError(err: unknown, subject: string, timeoutMs: number): GentlyError {
  if (isNoResponders(err)) {
    return new GentlyError("unavailable", `no service answers ${subject}: is it running?`);
  }
  if (isRequestTimeout(err)) {
    return new GentlyError("timeout", `no reply on ${subject} within ${timeoutMs} ms: the service that answers it is busy, stopped or cut off from NATS`);
  }
  return new GentlyError("unavailable", `request on ${subject} failed: ${String((err as Error)?.message ?? err)}`);
}
