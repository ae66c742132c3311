import type { GentlyClient, RunHandle, RunResult } from "@gently/client";
import { EXIT } from "../exit-codes";
import { humanRecord } from "../format";
import { progressBar } from "../progress-bar";

/**
 * Follows a run to its end with a progress bar on a terminal. The first
 * Ctrl-C aborts the run (lasers off, and the run still ends properly), or
 * stops it (ends it successfully: live view) with `interrupt: "stop"`; a
 * second one leaves at once.
 */
export async function followRun(client: GentlyClient, run: RunHandle, opts: { json: boolean; interrupt?: "abort" | "stop" }): Promise<RunResult> {
  const bar = progressBar(!opts.json);
  const stopProgress = run.onProgress((p) => bar.update(p));
  let interrupted = false;
  const onInterrupt = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    bar.stop();
    const stop = opts.interrupt === "stop";
    process.stderr.write(`${stop ? "stopping" : "aborting"} run ${run.run_uid} (Ctrl-C again to leave without waiting)\n`);
    const request = stop ? client.stop(run.run_uid) : client.abort(run.run_uid, "aborted from the command line");
    void request.catch((err) => process.stderr.write(`${stop ? "stop" : "abort"} failed: ${String(err)}\n`));
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

/** The plan's result for people (fields with units, lists as tables), then how the run ended. */
export function describeResult(result: RunResult): string {
  const body = humanRecord(result.result ?? {});
  const ended = `run ${result.run_uid} ${result.status}${result.status === "success" ? "" : `: ${result.reason}`}`;
  return body ? `${body}\n${ended}` : ended;
}
