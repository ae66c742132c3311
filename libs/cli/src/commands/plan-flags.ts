import { z } from "zod";
import { PLANS, type PlanName } from "@gently/protocol";
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
}

/** The plan's parameters as JSON Schema properties: the same generated schema the LLM sees. */
function propertiesOf(plan: PlanName): Record<string, JsonProp> {
  const schema = z.toJSONSchema(PLANS[plan].params, { io: "input" }) as { properties?: Record<string, JsonProp> };
  return schema.properties ?? {};
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

function convert(flag: string, raw: string, prop: JsonProp): unknown {
  if (prop.type === "number" || prop.type === "integer") {
    const value = Number(raw);
    if (raw.trim() === "" || !Number.isFinite(value)) throw new FlagError(`--${flag} must be a number, got '${raw}' (negative values: --${flag}=-5)`);
    return value;
  }
  if (prop.type === "array") {
    const items = raw.split(",").map((s) => s.trim()).filter((s) => s !== "");
    return items.map((item) => convert(flag, item, prop.items ?? {}));
  }
  return raw;
}

/**
 * The plan's parameters from parsed flags (only those given: the plan's
 * defaults fill the rest), checked against the plan's schema so a bad flag
 * is named before anything is sent.
 */
export function paramsFromFlags(plan: PlanName, values: Record<string, string | boolean | undefined>): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const [field, prop] of Object.entries(propertiesOf(plan))) {
    const raw = values[flagName(field)];
    if (raw === undefined) continue;
    params[field] = typeof raw === "boolean" ? raw : convert(flagName(field), raw, prop);
  }
  const checked = PLANS[plan].params.safeParse(params);
  if (!checked.success) {
    const issue = checked.error.issues[0]!;
    const field = issue.path[0];
    throw new FlagError(field === undefined ? issue.message : `--${flagName(String(field))}: ${issue.message}`);
  }
  return params;
}
