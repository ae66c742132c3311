import { GentlyError } from "@gently/protocol";
import { didYouMean, parseCommandArgs, UsageError, type ParsedArgs } from "./args";
import type { Command } from "./command";
import { EXIT } from "./exit-codes";
import { statusCommand } from "./commands/status";
import { credentialsCommand } from "./commands/credentials";
import { viewerCommand } from "./commands/viewer";
import { datastoreCommand } from "./commands/datastore";
import { toolsCommand } from "./commands/tools";
import { acquireCommand, calibrateCommand, detectCommand, focusCommand, illuminationCommand, laserPowerCommand, liveCommand, moveCommand, positionCommand, snapCommand, timelapseCommand } from "./commands/plans";
import { queueCommand } from "./commands/queue";
import { watchCommand } from "./commands/watch";
import { abortCommand, pauseCommand, resumeCommand, stopCommand } from "./commands/control";
import { historyCommand } from "./commands/history";
import { mcpCommand } from "./commands/mcp";
import { configCommand } from "./commands/config";

const COMMANDS: Command[] = [statusCommand, configCommand, credentialsCommand, viewerCommand, datastoreCommand];
// plans and run control
COMMANDS.push(toolsCommand, moveCommand, positionCommand, acquireCommand, snapCommand, liveCommand, timelapseCommand, focusCommand, calibrateCommand, detectCommand, illuminationCommand, laserPowerCommand);
COMMANDS.push(queueCommand, watchCommand, abortCommand, pauseCommand, resumeCommand, stopCommand, historyCommand);
// doors for agents
COMMANDS.push(mcpCommand);

function help(): string {
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(12)} ${c.summary}`);
  return `usage: gently <command> [--json] [flags]\n\ncommands:\n${lines.join("\n")}\n\nRun 'gently <command> --help' for its flags.`;
}

function commandHelp(cmd: Command): string {
  const flags = Object.entries(cmd.options).map(([name, o]) => `  --${name}${o.type === "string" ? " <value>" : ""}  ${o.description}`);
  return `usage: gently ${cmd.name} ${cmd.usage ?? ""}[flags]\n${cmd.summary}\n\nflags:\n${[...flags, "  --json  machine-readable output"].join("\n")}`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "help" || name === "--help" || name === "-h") {
    process.stdout.write(help() + "\n");
    return name ? EXIT.ok : EXIT.usage;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    process.stderr.write(`unknown command '${name}'${didYouMean(name, COMMANDS.map((c) => c.name))}\n${help()}\n`);
    return EXIT.usage;
  }
  let parsed: ParsedArgs;
  try {
    parsed = parseCommandArgs(cmd, rest);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${err.message}\n`);
    return EXIT.usage;
  }
  if (parsed.values.help) {
    process.stdout.write(commandHelp(cmd) + "\n");
    return EXIT.ok;
  }
  const json = parsed.values.json === true;
  try {
    return await cmd.run({ values: parsed.values, positionals: parsed.positionals, json });
  } catch (err) {
    const error = err instanceof GentlyError ? err : new GentlyError("internal", String((err as Error)?.message ?? err));
    if (json) process.stdout.write(JSON.stringify(error.toBody()) + "\n");
    else process.stderr.write(`error (${error.code}): ${error.message}\n`);
    return error.code === "unavailable" || error.code === "timeout" ? EXIT.unavailable : EXIT.failed;
  }
}

process.exitCode = await main(process.argv.slice(2));
