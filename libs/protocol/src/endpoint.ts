import type { z } from "zod";

/**
 * A request/reply contract: the subject plus the schemas of both bodies.
 * Services serve it and clients call it through the same object, so the two
 * sides can never disagree about a subject or a shape.
 */
export interface EndpointContract<Req extends z.ZodType = z.ZodType, Rep extends z.ZodType = z.ZodType> {
  /** endpoint name as listed by $SRV.INFO */
  name: string;
  subject: string;
  request: Req;
  reply: Rep;
  /** one line for $SRV.INFO and the docs */
  description: string;
}

export function endpoint<Req extends z.ZodType, Rep extends z.ZodType>(
  name: string,
  subject: string,
  request: Req,
  reply: Rep,
  description: string,
): EndpointContract<Req, Rep> {
  return { name, subject, request, reply, description };
}

/** A published (one-way) message: subject and body schema. */
export interface EventContract<Body extends z.ZodType = z.ZodType> {
  subject: string;
  body: Body;
}

export type RequestOf<E extends EndpointContract> = z.input<E["request"]>;
export type ParsedRequestOf<E extends EndpointContract> = z.output<E["request"]>;
export type ReplyOf<E extends EndpointContract> = z.output<E["reply"]>;
