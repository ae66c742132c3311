import { z } from "zod";

/**
 * One error type for the whole system. It travels as data: as the body
 * `{error: {code, message, field}}` and as the NATS micro-services headers
 * (`Nats-Service-Error`, `Nats-Service-Error-Code`), never as a stack trace.
 */
export const ERROR_CODES = {
  /** body failed its schema; `field` names the offending path */
  invalid_request: 400,
  /** a request without the credential the server requires (HTTP token) */
  unauthorized: 401,
  /** a request the server refuses whoever sends it (a Host header that is not this server's) */
  forbidden: 403,
  /** a uid that is not known */
  not_found: 404,
  /** state forbids it now (another owner holds the lease, a sequence is running, ...) */
  conflict: 409,
  /** a target outside the configured limits of a device */
  limit_violation: 422,
  /** a plan that is not on the allow-list */
  unknown_plan: 422,
  /** the plan runner's queue (or its read-only runs) is at its limit */
  queue_full: 429,
  /** storage is full or over its quota */
  disk_full: 507,
  /** storage cannot be written */
  not_writable: 507,
  /** the hardware or core reported an error */
  device_error: 502,
  /** a dependency (another service) did not answer */
  unavailable: 503,
  /** an operation ran past its deadline */
  timeout: 504,
  /** the run was aborted by its owner */
  aborted: 499,
  /** anything unexpected; details are in the service's log */
  internal: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export const ErrorBody = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    /** dotted path of the offending field, when one is to blame */
    field: z.string().optional(),
    /** structured details, e.g. every limit violation of a plan */
    details: z.unknown().optional(),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

export class GentlyError extends Error {
  constructor(
    readonly code: ErrorCode | string,
    message: string,
    readonly field?: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = "GentlyError";
  }

  /** Numeric code for the micro-services error header. */
  get status(): number {
    return ERROR_CODES[this.code as ErrorCode] ?? 500;
  }

  toBody(): ErrorBody {
    const error: ErrorBody["error"] = { code: this.code, message: this.message };
    if (this.field !== undefined) error.field = this.field;
    if (this.details !== undefined) error.details = this.details;
    return { error };
  }

  static fromBody(body: ErrorBody): GentlyError {
    return new GentlyError(body.error.code, body.error.message, body.error.field, body.error.details);
  }

  /** Turns a schema failure into the error a client sees: first issue names the field and the limit. */
  static fromZod(err: z.ZodError, prefix = ""): GentlyError {
    const issues = err.issues.map((issue) => ({
      field: [prefix, ...issue.path.map(String)].filter(Boolean).join("."),
      message: issue.message,
    }));
    const first = issues[0];
    const where = first?.field ? `${first.field}: ` : "";
    return new GentlyError(
      "invalid_request",
      `${where}${first?.message ?? "invalid request"}`,
      first?.field || undefined,
      issues.length > 1 ? { issues } : undefined,
    );
  }
}

export function isGentlyError(value: unknown): value is GentlyError {
  return value instanceof GentlyError;
}
