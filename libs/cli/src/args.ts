import { parseArgs } from "node:util";
import type { Command } from "./command";

/** A command line the CLI refuses: the message names the flag or command and, where it can, what was meant. */
export class UsageError extends Error {}

/** Edit distance (insertions, deletions, substitutions), for "did you mean". */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

/**
 * The known names closest to `given`: a prefix of one (acquir → acquire), or
 * within an edit distance of about a third of its length; best first, at most 3.
 */
export function suggest(given: string, known: readonly string[]): string[] {
  const g = given.toLowerCase();
  const scored = known
    .map((name) => {
      const n = name.toLowerCase();
      const distance = n.startsWith(g) || g.startsWith(n) ? Math.min(1, editDistance(g, n)) : editDistance(g, n);
      return { name, distance };
    })
    .filter((s) => s.distance <= Math.max(2, Math.floor(given.length / 3)))
    .sort((a, b) => a.distance - b.distance || a.name.localeCompare(b.name));
  return scored.slice(0, 3).map((s) => s.name);
}

/** ", did you mean 'x'?" or "" */
export function didYouMean(given: string, known: readonly string[], prefix = ""): string {
  const close = suggest(given, known);
  if (close.length === 0) return "";
  return `; did you mean ${close.map((c) => `'${prefix}${c}'`).join(" or ")}?`;
}

/** A value that starts like a number (-5, -0.1,0,0.1, -.5, -1e-3) rather than like a flag. */
const NEGATIVE_VALUE = /^-(\d|\.\d)/;

/**
 * Joins a flag that takes a value with a following negative number
 * (`--piezo-center-um -5` → `--piezo-center-um=-5`), which parseArgs would
 * otherwise refuse as ambiguous: the microscope's coordinates are signed.
 */
export function joinNegativeValues(args: readonly string[], options: Command["options"]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const next = args[i + 1];
    const takesValue = arg.startsWith("--") && !arg.includes("=") && options[arg.slice(2)]?.type === "string";
    if (takesValue && next !== undefined && NEGATIVE_VALUE.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/**
 * parseArgs with the CLI's rules: negative numbers as values, and refusals
 * that name the flag, say what it takes and suggest the flag that was meant.
 */
export function parseCommandArgs(cmd: Command, args: readonly string[]): ParsedArgs {
  const options: Command["options"] = {
    ...cmd.options,
    json: { type: "boolean", description: "machine-readable output" },
    help: { type: "boolean", short: "h", description: "this help" },
  };
  try {
    const parsed = parseArgs({ args: joinNegativeValues(args, options), options, allowPositionals: true, strict: true });
    return { values: parsed.values as ParsedArgs["values"], positionals: parsed.positionals };
  } catch (err) {
    throw new UsageError(explainParseError(cmd, options, err as Error & { code?: string }));
  }
}

function explainParseError(cmd: Command, options: Command["options"], err: Error & { code?: string }): string {
  const flags = Object.keys(options);
  const flag = /'(-{1,2}[^' =]+)/.exec(err.message)?.[1] ?? "";
  const name = flag.replace(/^-+/, "");
  switch (err.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `gently ${cmd.name}: unknown flag '${flag}'${didYouMean(name, flags, "--")} ('gently ${cmd.name} --help' lists its flags)`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE": {
      const option = options[name];
      if (option?.type === "boolean") return `gently ${cmd.name}: --${name} is a switch and takes no value (${option.description})`;
      return `gently ${cmd.name}: --${name} needs a value: ${option?.description ?? ""}`.trimEnd();
    }
    default:
      return `gently ${cmd.name}: ${err.message}`;
  }
}
