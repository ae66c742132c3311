/** One CLI sub-command: its flags (parsed with node:util parseArgs) and what it does. */
export interface Command {
  name: string;
  summary: string;
  options: Record<string, { type: "string" | "boolean"; description: string; short?: string }>;
  /** positional arguments, for help */
  usage?: string;
  run(args: { values: Record<string, string | boolean | undefined>; positionals: string[]; json: boolean }): Promise<number>;
}
