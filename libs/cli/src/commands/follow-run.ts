import type { GentlyClient, RunHandle, RunResult } from "@gently/client";
import { envValue } from "@gently/config";
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
  const noticeMs = silenceNoticeMs();
  const stallWatch = setInterval(() => void noticeSilence(client, run, noticeMs), Math.min(15_000, noticeMs / 2));
  try {
    return await run.done();
  } finally {
    clearInterval(stallWatch);
    process.off("SIGINT", onInterrupt);
    stopProgress();
    bar.stop();
  }
}

/** A run silent this long (GENTLY_CLI_SILENCE_NOTICE_S, default 60) gets a line on stderr saying what is awaited and what the plan runner says. */
function silenceNoticeMs(): number {
  return envValue("GENTLY_CLI_SILENCE_NOTICE_S") * 1000;
}

/**
 * A run may rightly be quiet for a while (a timelapse waiting for its next timepoint), so the CLI
 * keeps waiting, but says so: nothing heard for N s, and the plan runner's own view or why it
 * does not answer (a full disk once left `gently illumination` waiting 10 minutes in silence).
 */
async function noticeSilence(client: GentlyClient, run: RunHandle, noticeMs: number): Promise<void> {
  const silentMs = Date.now() - run.lastHeardAt;
  if (silentMs < noticeMs) return;
  run.lastHeardAt = Date.now(); // one notice per silent stretch
  let runner: string;
  try {
    const status = await client.status();
    runner =
      status.current?.run_uid === run.run_uid
        ? `the plan runner is ${status.state} on it`
        : `the plan runner is ${status.state}${status.current ? ` with run ${status.current.run_uid}` : ""}, ${status.queue_length} queued`;
  } catch (err) {
    runner = `the plan runner does not answer: ${(err as Error).message}`;
  }
  process.stderr.write(`still waiting for run ${run.run_uid} to end: nothing heard from it for ${Math.round(silentMs / 1000)} s; ${runner}\n`);
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
