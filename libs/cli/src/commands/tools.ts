import type { Command } from "../command";
import { EXIT } from "../exit-codes";
import { emit } from "../output";
import { withClient } from "./connect-client";

export const toolsCommand: Command = {
  name: "tools",
  summary: "the plans as LLM tool definitions (--json: name, description, input_schema of each)",
  options: {},
  async run({ json }) {
    const tools = await withClient((c) => c.tools());
    emit(json, tools, () => tools.map((t) => `${t.name.padEnd(22)} ${t.description}`).join("\n"));
    return EXIT.ok;
  },
};
