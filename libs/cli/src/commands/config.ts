import { describeConfig } from "@gently/config";
import { EXIT } from "../exit-codes";
import type { Command } from "../command";
import { emit, table } from "../output";

export const configCommand: Command = {
  name: "config",
  summary: "print every GENTLY_* setting this shell gives a gently process, where it came from (environment or default), and any value a process would refuse",
  options: {
    all: { type: "boolean", description: "also list the settings that are unset (and have no default)" },
  },
  async run({ values, json }) {
    const rows = describeConfig().filter((row) => values.all === true || row.source !== "unset");
    emit(json, rows, () => table([["variable", "value", "from", "sets"], ...rows.map((row) => [row.name, row.value, row.source, row.description])]));
    const problems = rows.filter((row) => row.problem !== undefined);
    for (const row of problems) process.stderr.write(`refused: ${row.problem}\n`);
    return problems.length > 0 ? EXIT.failed : EXIT.ok;
  },
};
