import { z } from "zod";
import { PLANS, type PlanName } from "@gently/protocol";
import { didYouMean } from "../args";
import type { Command } from "../command";

/** A plan parameter as a command-line flag: kebab-case of the field name (x_um → --x-um). */
export function flagName(field: string): string {
  return field.replace(/_/g, "-");
}

interface JsonProp {
  type?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  items?: JsonProp;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minItems?: number;
  maxItems?: number;
}

/** The plan's parameters as JSON Schema properties: the same generated schema the LLM sees. */
function propertiesOf(plan: PlanName): Record<string, JsonProp> {
  return schemaOf(plan).properties ?? {};
}

function schemaOf(plan: PlanName): { properties?: Record<string, JsonProp>; required?: string[] } {
  return z.toJSONSchema(PLANS[plan].params, { io: "input" }) as { properties?: Record<string, JsonProp>; required?: string[] };
}

/** Unit of a parameter from its name's suffix (piezo_um → µm). */
function unitOf(field: string): string {
  const suffix = /_(um|deg|ms|s|pct)$/.exec(field)?.[1];
  return suffix ? ({ um: "µm", deg: "°", ms: "ms", s: "s", pct: "%" } as Record<string, string>)[suffix]! : "";
}

function rangeOf(p: JsonProp, unit: string): string {
  const u = unit ? ` ${unit}` : "";
  const low = p.exclusiveMinimum !== undefined ? `above ${p.exclusiveMinimum}` : p.minimum !== undefined ? `${p.minimum}` : undefined;
  const high = p.exclusiveMaximum !== undefined ? `below ${p.exclusiveMaximum}` : p.maximum !== undefined ? `${p.maximum}` : undefined;
  if (low !== undefined && high !== undefined) {
    return p.exclusiveMinimum !== undefined || p.exclusiveMaximum !== undefined ? ` ${low} and at most ${high}${u}` : ` from ${low} to ${high}${u}`;
  }
  if (low !== undefined) return p.exclusiveMinimum !== undefined ? ` ${low}${u}` : ` of at least ${low}${u}`;
  if (high !== undefined) return ` of at most ${high}${u}`;
  return unit ? ` in ${unit}` : "";
}

/** What a flag takes, in words: "a whole number from 1 to 10000", "a number above 0 and at most 10000 ms", "one of \"Open\", \"Closed\"". */
export function expectedKind(field: string, p: JsonProp): string {
  const unit = unitOf(field);
  if (p.enum) return `one of ${p.enum.map((e) => JSON.stringify(e)).join(", ")}`;
  if (p.type === "integer") return `a whole number${rangeOf(p, unit)}`;
  if (p.type === "number") return `a number${rangeOf(p, unit)}`;
  if (p.type === "boolean") return "a switch (no value)";
  if (p.type === "array") {
    const count =
      p.minItems !== undefined && p.maxItems !== undefined ? `${p.minItems} to ${p.maxItems} ` : p.minItems !== undefined ? `at least ${p.minItems} ` : "";
    const each = p.items ? expectedKind(field, p.items) : "values";
    return `a comma-separated list of ${count}values, each ${each}`;
  }
  return "text";
}

function describeProp(p: JsonProp): string {
  const parts = [p.description ?? ""];
  if (p.type === "array") parts.push("comma-separated");
  if (p.enum) parts.push(`one of ${p.enum.map((e) => JSON.stringify(e)).join(", ")}`);
  if (p.items?.enum) parts.push(`each one of ${p.items.enum.map((e) => JSON.stringify(e)).join(", ")}`);
  if (p.default !== undefined) parts.push(`default ${Array.isArray(p.default) ? p.default.join(",") : String(p.default)}`);
  return parts.filter(Boolean).join("; ");
}

/** parseArgs options for a plan's parameters; booleans are switches, everything else a string parsed by type. */
export function planOptions(plan: PlanName): Command["options"] {
  const options: Command["options"] = {};
  for (const [field, prop] of Object.entries(propertiesOf(plan))) {
    options[flagName(field)] = { type: prop.type === "boolean" ? "boolean" : "string", description: describeProp(prop) };
  }
  return options;
}

export class FlagError extends Error {}

function convert(flag: string, raw: string, prop: JsonProp, field: string, whole = raw): unknown {
  if (prop.type === "number" || prop.type === "integer") {
    const value = Number(raw);
    if (raw.trim() === "" || !Number.isFinite(value)) throw new FlagError(`--${flag}: expected ${expectedKind(field, prop)}, got '${whole}'`);
    return value;
  }
  if (prop.type === "array") {
    const items = raw.split(",").map((s) => s.trim()).filter((s) => s !== "");
    return items.map((item) => convert(flag, item, prop.items ?? {}, field, whole));
  }
  return raw;
}

/**
 * The plan's parameters from parsed flags (only those given: the plan's
 * defaults fill the rest), checked against the plan's schema so a bad flag
 * is named before anything is sent: the flag, what it takes (kind, range,
 * unit) and the value given.
 */
export function paramsFromFlags(plan: PlanName, values: Record<string, string | boolean | undefined>): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  const props = propertiesOf(plan);
  for (const [field, prop] of Object.entries(props)) {
    const raw = values[flagName(field)];
    if (raw === undefined) continue;
    params[field] = typeof raw === "boolean" ? raw : convert(flagName(field), raw, prop, field);
  }
  const checked = PLANS[plan].params.safeParse(params);
  if (!checked.success) {
    const issue = checked.error.issues[0]!;
    const field = issue.path[0];
    if (field === undefined) throw new FlagError(issue.message);
    const name = String(field);
    const prop = props[name] ?? {};
    const flag = flagName(name);
    const raw = values[flag];
    if (raw === undefined) throw new FlagError(`--${flag} is required: ${expectedKind(name, prop)}${prop.description ? ` (${prop.description})` : ""}`);
    const given = String(raw);
    throw new FlagError(`--${flag}: expected ${expectedKind(name, prop)}${refinement(issue.message, prop)}, got '${given}'${suggestion(given, prop)}`);
  }
  return params;
}

/** "did you mean" for a value (or list item) that is not among the allowed ones. */
function suggestion(given: string, prop: JsonProp): string {
  const allowed = (prop.enum ?? prop.items?.enum)?.map(String);
  if (!allowed) return "";
  const values = prop.enum ? [given] : given.split(",").map((v) => v.trim());
  const unknown = values.find((v) => !allowed.includes(v));
  return unknown === undefined ? "" : didYouMean(unknown, allowed);
}

/** What the schema says beyond kind and range (e.g. "cameras must be different"), when it says something of its own. */
function refinement(message: string, prop: JsonProp): string {
  if (/^(Invalid|Too (small|big)|expected)/i.test(message)) return "";
  if (prop.enum || prop.items?.enum || prop.type === "number" || prop.type === "integer") return message.startsWith("Invalid") ? "" : ` (${message})`;
  return ` (${message})`;
}
