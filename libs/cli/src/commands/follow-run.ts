import type { GentlyClient, RunHandle, RunResult } from "@gently/client";
import { EXIT } from "../exit-codes";
import { progressBar } from "../progress-bar";

/**
 * Follows a run to its end with a progress bar on a terminal. The first
 * Ctrl-C aborts the run (lasers off, and the run still ends properly); a
 * second one leaves at once.
 */
export async function followRun(client: GentlyClient, run: RunHandle, opts: { json: boolean }): Promise<RunResult> {
  const bar = progressBar(!opts.json);
  const stopProgress = run.onProgress((p) => bar.update(p));
  let interrupted = false;
  const onInterrupt = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    bar.stop();
    process.stderr.write(`aborting run ${run.run_uid} (Ctrl-C again to leave without waiting)\n`);
    void client.abort(run.run_uid, "aborted from the command line").catch((err) => process.stderr.write(`abort failed: ${String(err)}\n`));
  };
  process.on("SIGINT", onInterrupt);
  try {
    return await run.done();
  } finally {
    process.off("SIGINT", onInterrupt);
    stopProgress();
    bar.stop();
  }
}

export function exitCodeOf(result: RunResult): number {
  return result.status === "success" ? EXIT.ok : EXIT.failed;
}

function format(value: unknown): string {
  if (Array.isArray(value) && value.every((v) => typeof v === "number")) return value.join("×");
  if (typeof value === "object" && value !== null) return JSON.stringify(value);
  return String(value);
}

/** One line per field of the plan's result, then how the run ended. */
export function describeResult(result: RunResult): string {
  const lines: string[] = [];
  for (const [key, value] of Object.entries(result.result ?? {})) lines.push(`${key.padEnd(18)} ${format(value)}`);
  lines.push(`${"run".padEnd(18)} ${result.run_uid} ${result.status}${result.status === "success" ? "" : `: ${result.reason}`}`);
  return lines.join("\n");
}
