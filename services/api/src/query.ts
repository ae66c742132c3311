import { GentlyError } from "@gently/protocol";
import type { z } from "zod";

/** Longest query string the API reads. */
export const MAX_QUERY_LENGTH = 1024;

/** Parses a query string against a strict schema; repeated or bad parameters are refused naming the parameter. */
export function parseQuery<S extends z.ZodType>(url: URL, schema: S): z.output<S> {
  if (url.search.length > MAX_QUERY_LENGTH) throw new GentlyError("invalid_request", `query: longer than ${MAX_QUERY_LENGTH} characters`, "query");
  const raw: Record<string, string> = {};
  for (const [key, value] of url.searchParams) {
    if (Object.hasOwn(raw, key)) throw new GentlyError("invalid_request", `${key}: given more than once`, key);
    raw[key] = value;
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw GentlyError.fromZod(parsed.error, "", raw);
  return parsed.data;
}
