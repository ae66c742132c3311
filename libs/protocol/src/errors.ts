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

  /**
   * Turns a schema failure into the error a client sees: the first issue names the field, what it
   * takes (kind, range, allowed values) and the value given. `input` is what was parsed, for the value.
   */
  static fromZod(err: z.ZodError, prefix = "", input?: unknown): GentlyError {
    const issues = err.issues.map((issue) => ({
      field: [prefix, ...issue.path.map(String)].filter(Boolean).join("."),
      message: describeIssue(issue, valueAt(input, issue.path)),
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

/** zod's own wording for an issue ("Too small: expected number to be >=1"); a schema's own message is kept as written. */
const ZOD_DEFAULT_MESSAGE = /^(Invalid input|Too small|Too big|Invalid option|Unrecognized key|Invalid number|Invalid string)/;

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** The value given, briefly; objects and arrays by their kind only (a hostile body may nest thousands deep). */
function shown(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === "object") return "an object";
  const text = typeof value === "string" ? JSON.stringify(value) : String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function describeIssue(issue: z.core.$ZodIssue, value: unknown): string {
  if (!ZOD_DEFAULT_MESSAGE.test(issue.message)) return issue.message;
  const given = `, got ${shown(value)}`;
  switch (issue.code) {
    case "invalid_type":
      return value === undefined ? `required (${issue.expected})` : `expected ${issue.expected}${given}`;
    case "too_small":
    case "too_big": {
      const bound = issue.code === "too_small" ? issue.minimum : issue.maximum;
      const op = issue.code === "too_small" ? (issue.inclusive ? ">=" : ">") : issue.inclusive ? "<=" : "<";
      if (issue.origin === "number" || issue.origin === "int" || issue.origin === "bigint" || issue.origin === "date") {
        return `must be ${op} ${String(bound)}${given}`;
      }
      const unit = issue.origin === "string" ? "characters" : "items";
      const length = typeof value === "string" || Array.isArray(value) ? value.length : undefined;
      return `must have ${op} ${String(bound)} ${unit}${length === undefined ? "" : `, got ${length}`}`;
    }
    case "invalid_value":
      return `must be one of ${issue.values.map((v) => shown(v)).join(", ")}${given}`;
    case "unrecognized_keys":
      return `unknown field${issue.keys.length > 1 ? "s" : ""} ${issue.keys.join(", ")}`;
    case "not_multiple_of":
      return `must be a multiple of ${String(issue.divisor)}${given}`;
    default:
      return `${issue.message}${given}`;
  }
}

export function isGentlyError(value: unknown): value is GentlyError {
  return value instanceof GentlyError;
}
