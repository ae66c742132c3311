import type { JetStreamClient } from "@nats-io/jetstream";
import type { Logger } from "@gently/bus";
import {
  GentlyError,
  type ExitStatus,
  type HistoryEntry,
  type RunnerStatus,
  type RunPhase,
  type Uid,
} from "@gently/protocol";
import type { AcquisitionDeps } from "./acquisition";
import { storeCalibration } from "./calibration-store";
import { RunDocuments } from "./documents";
import type { ParsedPlan, StepRecord } from "./plans";
import type { RunControl } from "./run-control";
import { instrumentState, runStep } from "./step-engines";
import { eventStream, stepWeight, type Step } from "./steps";
import { checkSteps, planRefusal } from "./validate";
import { VERSION } from "./version";

export interface RunnerEnv {
  deps: AcquisitionDeps;
  js: JetStreamClient;
  storage: string;
  logger: Logger;
  runnerStatus(): RunnerStatus;
}

export interface RunSpec {
  run_uid: Uid;
  plan: ParsedPlan;
  session_id: string;
  submitted: string;
}

export type ProgressUpdate = { phase: RunPhase; done: number; total: number; message?: string };

function messageOf(err: unknown): string {
  return err instanceof GentlyError ? `${err.code}: ${err.message}` : String((err as Error)?.message ?? err);
}

/**
 * Runs one plan, pymmcore-plus style: dry run and check every target,
 * emit start, run the typed steps through their engines with a checkpoint
 * (pause, stop, abort) between each, add the plan's analysis of each reading,
 * summarize, and always run the plan's teardown and emit stop, whatever
 * happened.
 */
export async function executeRun(
  env: RunnerEnv,
  spec: RunSpec,
  control: RunControl,
  onUpdate: (u: ProgressUpdate) => void,
  /** the run's history entry, handed over just before its stop document is published */
  onEnded: (entry: HistoryEntry) => void,
): Promise<HistoryEntry> {
  const { plan, run_uid, session_id } = spec;
  const { nc } = env.deps;
  const log = env.logger.child({ run_uid, plan: plan.name });
  const docs = new RunDocuments(env.js, nc, run_uid);
  const started = new Date();
  let steps: Step[] = [];
  let exit: ExitStatus = "success";
  let reason = "completed";
  let failedBeforeStart: unknown = null;
  try {
    // checked again at start: the state may have changed since the plan was queued
    const state = await instrumentState(env.deps);
    steps = plan.definition.expand(plan.params, state);
    const check = checkSteps(state.limits, steps);
    if (check.total > 0) throw planRefusal(check);
  } catch (err) {
    failedBeforeStart = err;
  }
  const total = steps.reduce((n, s) => n + stepWeight(s), 0);
  let done = 0;
  let phase: RunPhase = "running";
  const update = (p: RunPhase, d: number, message?: string) => {
    phase = p;
    const u = { phase: p, done: d, total, ...(message ? { message } : {}) };
    onUpdate(u);
    docs.progress(u);
  };
  control.onPaused = () => update("paused", done, "paused between steps");

  const startDoc = await docs.start({ plan_name: plan.name, plan_args: plan.params as Record<string, unknown>, session_id, num_points: total, versions: { gently: VERSION } });
  const records: StepRecord[] = [];
  try {
    if (failedBeforeStart) throw failedBeforeStart;
    const owner = { session_id, run_uid, plan_name: plan.name };
    for (let i = 0; i < steps.length; i++) {
      const step = steps[i]!;
      const verdict = await control.checkpoint();
      if (verdict === "abort") throw new GentlyError("aborted", control.abortReason);
      if (verdict === "stop") {
        reason = `stopped by request after ${i} of ${steps.length} steps`;
        break;
      }
      update(step.kind === "acquire" ? "acquiring" : step.kind === "wait_until" ? "waiting" : "running", done, step.where);
      const outcome = await runStep(step, {
        deps: env.deps,
        owner,
        control,
        startedMs: started.getTime(),
        runnerStatus: env.runnerStatus,
        onFrames: (frames, of) => update(phase, done + frames, `${step.where}: frame ${frames}/${of}`),
        record: async (data, volume) => {
          records.push({ step, data });
          await docs.event(eventStream(step), data, { source: "writer", volume });
        },
      });
      if (outcome.data) {
        if (plan.definition.analyze) Object.assign(outcome.data, await plan.definition.analyze(step, { storage: env.storage, volume: outcome.volume }));
        records.push({ step, data: outcome.data });
        await docs.event(eventStream(step), outcome.data, { source: outcome.source, ...(outcome.volume ? { volume: outcome.volume } : {}) });
      }
      done += stepWeight(step);
      update("running", done, step.where);
      if (outcome.stop) {
        reason = `stopped by request after ${i + 1} of ${steps.length} steps`;
        break;
      }
    }
    const result = await plan.definition.summarize(plan.params, records, {
      run_uid,
      session_id,
      storeCalibration: (record) => storeCalibration(env.js, env.storage, record, { session_id, run_uid }),
    });
    await docs.event("result", result, { source: "plan" });
  } catch (err) {
    if (control.aborted) {
      exit = "abort";
      reason = control.abortReason;
    } else {
      exit = "fail";
      reason = messageOf(err);
      log.warn({ err: reason }, "run failed");
    }
  } finally {
    const teardown = plan.definition.teardown;
    if (teardown) {
      update("teardown", done, teardown.what);
      try {
        await teardown.run(env.deps);
      } catch (err) {
        log.error({ err: String(err) }, `teardown failed: ${teardown.failure}`);
        if (exit === "success") {
          exit = "fail";
          reason = `${teardown.failure}: ${messageOf(err)}`;
        } else {
          reason += `; ${teardown.failure}: ${messageOf(err)}`;
        }
      }
    }
  }
  // the last progress goes before the stop document: whoever waits for stop has seen it
  update("done", exit === "success" ? total : done, `${exit}: ${reason}`);
  let entry: HistoryEntry | null = null;
  const stop = await docs.stop(exit, reason, plan.name, (doc) => {
    entry = {
      run_uid,
      plan: plan.name,
      params: plan.params as Record<string, unknown>,
      session_id,
      // as the documents say, so the history rebuilt from them after a restart is the same
      started: new Date(startDoc.time * 1000).toISOString(),
      ended: new Date(doc.time * 1000).toISOString(),
      exit_status: exit,
      reason,
      volume_uids: doc.volume_uids,
    };
    onEnded(entry);
  });
  log.info({ exit, reason, volumes: stop.volume_uids.length }, "run ended");
  return entry!;
}
