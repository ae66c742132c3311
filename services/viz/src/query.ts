import { GentlyError } from "@gently/protocol";
import { z } from "zod";

/** Longest query string viz reads; anything longer is not a request a viewer makes. */
export const MAX_QUERY_LENGTH = 1024;

/**
 * Parses a query string against a strict schema: unknown, repeated or
 * out-of-range parameters are refused with 400 naming the parameter and its
 * limit.
 */
export function parseQuery<S extends z.ZodObject>(url: URL, schema: S): z.output<S> {
  if (url.search.length > MAX_QUERY_LENGTH) {
    throw new GentlyError("invalid_request", `query: longer than ${MAX_QUERY_LENGTH} characters`, "query");
  }
  const raw: Record<string, string> = {};
  for (const [key, value] of url.searchParams) {
    if (!Object.hasOwn(schema.shape, key)) {
      const known = Object.keys(schema.shape);
      throw new GentlyError("invalid_request", `${key}: unknown parameter (known: ${known.join(", ") || "none"})`, key);
    }
    if (Object.hasOwn(raw, key)) throw new GentlyError("invalid_request", `${key}: given more than once`, key);
    raw[key] = value;
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw GentlyError.fromZod(parsed.error, "", raw);
  return parsed.data as z.output<S>;
}

/** An integer query parameter in [min, max], written as plain decimal digits. */
export function intParam(min: number, max: number) {
  return z
    .string()
    .regex(/^-?\d{1,10}$/, `must be an integer in [${min}, ${max}]`)
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
}
