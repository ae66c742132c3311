import type { NatsConnection } from "@nats-io/transport-node";
import { Svcm, type Service, type ServiceMsg } from "@nats-io/services";
import {
  GentlyError,
  microServiceName,
  type EndpointContract,
  type ParsedRequestOf,
  type ReplyOf,
} from "@gently/protocol";
import { z } from "zod";
import { decodeJson, encodeJson } from "./codec";
import { processLiveness } from "./liveness";
import type { Logger } from "./logger";

export interface RequestContext {
  logger: Logger;
  msg: ServiceMsg;
  /** This instance's micro-services id: `$SRV.PING.<service>.<id>` answers while it runs. */
  serviceId: string;
}

export interface EndpointHandler<E extends EndpointContract = EndpointContract> {
  contract: E;
  handle: (request: ParsedRequestOf<E>, ctx: RequestContext) => Promise<ReplyOf<E>> | ReplyOf<E>;
}

/** Pairs a contract with its implementation; the types of both bodies follow from the contract. */
export function handle<E extends EndpointContract>(
  contract: E,
  fn: EndpointHandler<E>["handle"],
): EndpointHandler<E> {
  return { contract, handle: fn };
}

export interface MicroServiceOptions {
  /** short name, e.g. "hardware"; registered as gently-<name> */
  name: string;
  version: string;
  description: string;
  logger: Logger;
  handlers: EndpointHandler<any>[];
  /** queue group: instances of one service share the load; set per service */
  queue?: string;
  metadata?: Record<string, string>;
}

/** Unwraps a thrown value into the error that travels on the wire. */
export function toGentlyError(err: unknown): GentlyError {
  if (err instanceof GentlyError) return err;
  if (err instanceof z.ZodError) return GentlyError.fromZod(err);
  if (err instanceof SyntaxError) return new GentlyError("invalid_request", `body is not valid JSON: ${err.message}`);
  return new GentlyError("internal", "internal error; see the service log");
}

/**
 * Registers the endpoints with the NATS micro-services protocol, so
 * $SRV.PING/INFO/STATS list the service, its version, endpoints and error
 * counts. Every request is validated against its contract; a bad body gets a
 * structured error and the service keeps serving.
 */
export async function startMicroService(nc: NatsConnection, opts: MicroServiceOptions): Promise<Service> {
  const service = await new Svcm(nc).add({
    name: microServiceName(opts.name),
    version: opts.version,
    description: opts.description,
    queue: opts.queue ?? microServiceName(opts.name),
    metadata: opts.metadata,
    // every endpoint's stats carry how the instance judges itself: `gently status` tells up from degraded
    statsHandler: async () => ({ liveness: processLiveness.report() }),
  });
  processLiveness.require(`micro-service ${microServiceName(opts.name)}`, service.stopped);
  for (const handler of opts.handlers) {
    const { contract } = handler;
    service.addEndpoint(contract.name, {
      subject: contract.subject,
      metadata: { description: contract.description },
      handler: (err, msg) => {
        if (err) {
          opts.logger.error({ err, subject: contract.subject }, "endpoint failed");
          return;
        }
        if (!isInbox(msg.reply)) {
          // Every caller asks from its _INBOX.<account> prefix. A message without one is
          // another service's answer that a requester aimed at this endpoint by naming it as
          // its reply subject (say plan.status answered onto hw.sequence.stop): never obeyed,
          // and nothing is answered onto a subject that is not an inbox.
          opts.logger.warn({ subject: msg.subject, reply: msg.reply }, "ignored a request without an inbox to answer");
          return;
        }
        void respond(handler, msg, opts.logger, service.info().id).then((error) => {
          if (error) countError(service, contract.name, error);
        });
      },
    });
  }
  // The endpoints' subscriptions reach the server before this resolves: a caller told "ready" never gets "no responders".
  await nc.flush();
  opts.logger.info({ endpoints: opts.handlers.map((h) => h.contract.subject) }, "service registered");
  return service;
}

/**
 * Whether one running instance of a service (its micro-services id, e.g. from
 * RequestContext.serviceId) answers `$SRV.PING` within `timeoutMs`. false
 * means stopped, killed or cut off from NATS; ids are never reused, so an
 * instance that stopped answering never comes back.
 */
export async function instanceAnswers(nc: NatsConnection, service: string, id: string, timeoutMs = 1_000): Promise<boolean> {
  try {
    const pings = await new Svcm(nc).client({ strategy: "timer", maxWait: timeoutMs }).ping(microServiceName(service), id);
    for await (const identity of pings) if (identity.id === id) return true;
  } catch {
    // no responders: nobody serves that id
  }
  return false;
}

/**
 * The services library counts an error only when a handler throws
 * synchronously; ours answer asynchronously, so the count is added to the
 * endpoint's own stats record to keep $SRV.STATS (num_errors, last_error) true.
 */
function countError(service: Service, endpointName: string, error: GentlyError): void {
  const handlers = (service as unknown as { handlers?: { name: string; stats?: { countError(e: Error): void } }[] }).handlers;
  handlers?.find((h) => h.name === endpointName)?.stats?.countError(error);
}

function isInbox(reply: string | undefined): boolean {
  return reply !== undefined && reply.startsWith("_INBOX.");
}

/** Answers one request; returns the error it answered with, if any. */
async function respond(handler: EndpointHandler, msg: ServiceMsg, logger: Logger, serviceId: string): Promise<GentlyError | null> {
  const { contract } = handler;
  const log = logger.child({ subject: msg.subject });
  try {
    const body = decodeJson(msg.data);
    const checked = contract.request.safeParse(body);
    if (!checked.success) throw GentlyError.fromZod(checked.error, "", body);
    const request = checked.data;
    const reply = await handler.handle(request, { logger: log, msg, serviceId });
    msg.respond(encodeJson(contract.reply.parse(reply)));
    return null;
  } catch (err) {
    const error = toGentlyError(err);
    if (error.code === "internal") log.error({ err }, "request failed unexpectedly");
    else log.info({ code: error.code, field: error.field }, error.message);
    msg.respondError(error.status, headerText(error.message), encodeJson(error.toBody()));
    return error;
  }
}

/**
 * The Nats-Service-Error header carries the message on one line: nats.js
 * throws on CR or LF in a header value, and a message may quote the bad input
 * (a JSON syntax error does), which took the whole service down. The body
 * keeps the message as it was.
 */
function headerText(message: string): string {
  const line = message.replace(/[\r\n]+/g, " ");
  return line.length > 1024 ? `${line.slice(0, 1021)}...` : line;
}
