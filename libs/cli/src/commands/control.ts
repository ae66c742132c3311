import type { ControlReply } from "@gently/protocol";
import type { Command } from "../command";
import { EXIT } from "../exit-codes";
import { emit } from "../output";
import { withClient } from "./connect-client";
import type { GentlyClient } from "@gently/client";

function controlCommand(
  name: string,
  summary: string,
  act: (client: GentlyClient, run: string | undefined, values: Record<string, string | boolean | undefined>) => Promise<ControlReply>,
  options: Command["options"] = {},
): Command {
  return {
    name,
    summary,
    usage: "[run] ",
    options,
    async run({ values, positionals, json }) {
      if (positionals.length > 1) {
        process.stderr.write(`usage: gently ${name} [run]\n`);
        return EXIT.usage;
      }
      const reply = await withClient((client) => act(client, positionals[0], values));
      emit(json, reply, () => `${reply.run_uid}: ${reply.effect}`);
      return EXIT.ok;
    },
  };
}

export const abortCommand = controlCommand(
  "abort",
  "abort the run in progress (or the given run; a queued one is removed): sequence stopped, lasers off",
  (client, run, values) => client.abort(run, typeof values.reason === "string" ? values.reason : undefined),
  { reason: { type: "string", description: "why, recorded in the run's stop document" } },
);
export const pauseCommand = controlCommand("pause", "pause the run in progress at its next step boundary (a volume in progress completes)", (c, run) => c.pause(run));
export const resumeCommand = controlCommand("resume", "resume a paused run", (c, run) => c.resume(run));
export const stopCommand = controlCommand("stop", "let the current step finish, then end the run successfully", (c, run) => c.stop(run));
