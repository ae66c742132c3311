import { FatalConfigError } from "./errors";
import { ENV_VARIABLES, type EnvName, type EnvValue } from "./variables";

type Env = Record<string, string | undefined>;

function isBlank(raw: string | undefined): raw is undefined | "" {
  return raw === undefined || raw.trim() === "";
}

/**
 * The value of one GENTLY_* variable: parsed by its schema when set, else its
 * default. A value the schema refuses is a FatalConfigError naming the
 * variable, the value and the rule.
 */
export function envValue<N extends EnvName>(name: N, env: Env = process.env): EnvValue<N> {
  const variable = ENV_VARIABLES[name];
  const raw = env[name];
  if (isBlank(raw)) return variable.fallback as EnvValue<N>;
  const parsed = variable.schema.safeParse(raw);
  if (!parsed.success) {
    const shown = "secret" in variable && variable.secret ? "(secret)" : `'${raw}'`;
    throw new FatalConfigError(`${name}=${shown} ${parsed.error.issues[0]?.message ?? "is not valid"}`);
  }
  return parsed.data as EnvValue<N>;
}

export type ConfigSource = "environment" | "default" | "unset";

export interface ConfigRow {
  name: EnvName;
  /** the value as the process reads it, secrets masked; a default computed elsewhere in words */
  value: string;
  source: ConfigSource;
  description: string;
  /** why the environment's value is refused (a process given it would not start) */
  problem?: string;
}

function display(value: unknown): string {
  return Array.isArray(value) ? value.join(",") : String(value);
}

/** Every variable with its value and where it came from (the environment, its default, or unset), and any value refused. */
export function describeConfig(env: Env = process.env): ConfigRow[] {
  return (Object.keys(ENV_VARIABLES) as EnvName[]).map((name) => {
    const variable = ENV_VARIABLES[name];
    const secret = "secret" in variable && variable.secret === true;
    let value: unknown;
    try {
      value = envValue(name, env);
    } catch (err) {
      return { name, value: secret ? "(set)" : String(env[name]), source: "environment", description: variable.description, problem: (err as Error).message };
    }
    const source: ConfigSource = !isBlank(env[name]) ? "environment" : variable.fallback !== undefined || "fallbackText" in variable ? "default" : "unset";
    const shown =
      value === undefined ? ("fallbackText" in variable ? String(variable.fallbackText) : "") : secret ? "(set)" : display(value);
    return { name, value: shown, source, description: variable.description };
  });
}
