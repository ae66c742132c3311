import type { Logger } from "@gently/bus";
import {
  GentlyError,
  newUid,
  type ActiveRun,
  type ControlReply,
  type HistoryEntry,
  type QueuedRun,
  type QueueReply,
  type RunnerStatus,
  type SubmitReply,
  type Uid,
} from "@gently/protocol";
import { RunDocuments } from "./documents";
import type { RunHistory } from "./history";
import { parsePlan, type ParsedPlan } from "./plans";
import { RunQueue } from "./queue";
import type { QueueStore } from "./queue-store";
import { RecentHwState } from "./recent-state";
import { RunControl } from "./run-control";
import { executeRun, type RunnerEnv } from "./runner";
import { checkSteps, planRefusal } from "./validate";
import { VERSION } from "./version";

interface Pending {
  run_uid: Uid;
  info: QueuedRun;
  plan: ParsedPlan;
}

interface Running {
  info: ActiveRun;
  control: RunControl;
  finished: Promise<HistoryEntry>;
}

const DEFAULT_SESSION = "default";

export interface QueueLimits {
  /** runs that may wait in the queue */
  queueMax: number;
  /** read-only runs (positions, state, detection) that may run at once */
  readersMax: number;
}

export const DEFAULT_QUEUE_LIMITS: QueueLimits = { queueMax: 100, readersMax: 16 };

/**
 * The queue and the runs: one run that may move or illuminate at a time, in
 * FIFO order; read-only plans (positions, state, detection) run at once
 * beside it. Every control request lands here.
 */
/** How old the hardware state a submit is checked against may be (the run is checked again when it starts). */
const SUBMIT_STATE_MAX_AGE_MS = 250;

export class Scheduler {
  private readonly queue = new RunQueue<Pending>();
  private current: Running | null = null;
  private readonly readers = new Map<string, Running>();
  private finishedCount = 0;
  private closing = false;
  private readonly recentState: RecentHwState;

  constructor(
    private readonly env: Omit<RunnerEnv, "runnerStatus">,
    private readonly history: RunHistory,
    private readonly logger: Logger,
    private readonly store: QueueStore,
    private readonly limits: QueueLimits = DEFAULT_QUEUE_LIMITS,
  ) {
    this.recentState = new RecentHwState(env.deps.nc, SUBMIT_STATE_MAX_AGE_MS);
  }

  /** Parse, dry-run and check the plan now (so the caller hears of every violation), then queue it. */
  async submit(req: { plan: string; params: Record<string, unknown>; session_id?: string }): Promise<SubmitReply> {
    if (this.closing) throw new GentlyError("unavailable", "the plan runner is stopping");
    const plan = parsePlan(req.plan, req.params);
    this.admit(plan.definition.readOnly);
    if (!plan.definition.readOnly) {
      const state = await this.recentState.read();
      const check = checkSteps(state.limits, plan.definition.expand(plan.params, state));
      if (check.total > 0) throw planRefusal(check);
    }
    const run_uid = newUid();
    const info: QueuedRun = {
      run_uid,
      plan: plan.name,
      params: plan.params as Record<string, unknown>,
      session_id: req.session_id ?? DEFAULT_SESSION,
      submitted: new Date().toISOString(),
    };
    // checked again: other submits may have filled the queue while this one read hw.state
    this.admit(plan.definition.readOnly);
    if (plan.definition.readOnly) {
      const running = this.start({ run_uid, info, plan }, () => this.readers.delete(run_uid));
      this.readers.set(run_uid, running);
      return { run_uid, plan: plan.name, position: 0 };
    }
    const place = this.queue.push({ run_uid, info, plan });
    // a run past its teardown (only its stop document left) is not ahead of anyone
    const ahead = this.current && this.current.info.phase !== "done" ? 1 : 0;
    const position = place - 1 + ahead;
    this.pump();
    // answered once stored: a run the caller was told is queued survives a crash of the plan runner
    await this.persist();
    return { run_uid, plan: plan.name, position };
  }

  /**
   * Every queued run holds memory and, once dropped, two documents to write:
   * a bounded queue keeps a flood of submits (an agent in a loop) from taking
   * the plan runner down, and an abort of everything queued bounded too.
   */
  private admit(readOnly: boolean): void {
    if (readOnly && this.readers.size >= this.limits.readersMax) {
      throw new GentlyError(
        "queue_full",
        `plan: ${this.readers.size} read-only runs are in progress, the limit is ${this.limits.readersMax} (GENTLY_PLAN_READERS_MAX); try again when they end`,
        "plan",
        { limit: this.limits.readersMax },
      );
    }
    if (!readOnly && this.queue.length >= this.limits.queueMax) {
      throw new GentlyError(
        "queue_full",
        `plan: the queue holds ${this.queue.length} runs, the limit is ${this.limits.queueMax} (GENTLY_PLAN_QUEUE_MAX); wait for runs to end or remove some`,
        "plan",
        { limit: this.limits.queueMax },
      );
    }
  }

  /**
   * Puts back the runs stored as queued when the plan runner last ran, in
   * their order, and starts the first. A run that started before the crash
   * (its documents are in the history) is not run again; one whose plan no
   * longer parses is reported and left out.
   */
  restore(saved: readonly QueuedRun[]): number {
    for (const info of saved) {
      if (this.history.has(info.run_uid)) continue;
      try {
        this.queue.push({ run_uid: info.run_uid, info, plan: parsePlan(info.plan, info.params) });
      } catch (err) {
        this.logger.error({ run_uid: info.run_uid, plan: info.plan, err: String(err) }, "a stored queued run could not be restored");
      }
    }
    this.pump();
    void this.persist();
    return this.queue.length + (this.current ? 1 : 0);
  }

  /** Stores the queue as it is now; a failure is logged (the queue goes on, only a crash would lose it). */
  private persist(): Promise<void> {
    return this.store.save(this.queue.list().map((p) => p.info)).catch((err) => {
      this.logger.warn({ err: String(err) }, "queue not stored: queued runs would not survive a crash now");
    });
  }

  private pump(): void {
    if (this.current || this.closing) return;
    const next = this.queue.shift();
    if (!next) return;
    void this.persist();
    this.current = this.start(next, () => {
      this.current = null;
      this.pump();
    });
  }

  private start(p: Pending, onEnd: () => void): Running {
    const control = new RunControl();
    const info: ActiveRun = { ...p.info, started: new Date().toISOString(), phase: "running", done: 0, total: 0 };
    const finished = executeRun(
      { ...this.env, runnerStatus: () => this.status() },
      { run_uid: p.run_uid, plan: p.plan, session_id: p.info.session_id, submitted: p.info.submitted },
      control,
      (u) => Object.assign(info, { phase: u.phase, done: u.done, total: u.total }),
      (entry) => this.history.add(entry),
    )
      .catch((err) => {
        // documents could not be published (NATS gone): the run is over all the same
        this.logger.error({ run_uid: p.run_uid, err: String(err) }, "run ended without its stop document");
        throw err;
      })
      .finally(() => {
        this.finishedCount++;
        onEnd();
      });
    finished.catch(() => undefined);
    return { info, control, finished };
  }

  /** The run a control request means: the given one, else the run in progress. */
  private target(run_uid: string | undefined, what: string): Running {
    if (run_uid === undefined) {
      if (!this.current) throw new GentlyError("conflict", `nothing to ${what}: no run in progress`);
      return this.current;
    }
    if (this.current?.info.run_uid === run_uid) return this.current;
    const reader = this.readers.get(run_uid);
    if (reader) return reader;
    if (this.queue.find(run_uid)) throw new GentlyError("conflict", `run ${run_uid} has not started yet; remove it from the queue instead`, "run_uid");
    throw new GentlyError("not_found", `run ${run_uid} is neither running nor queued`, "run_uid");
  }

  pause(run_uid?: string): ControlReply {
    const run = this.target(run_uid, "pause");
    return { run_uid: run.info.run_uid, effect: run.control.pause() };
  }

  resume(run_uid?: string): ControlReply {
    const run = this.target(run_uid, "resume");
    run.control.resume();
    return { run_uid: run.info.run_uid, effect: "resumed" };
  }

  stop(run_uid?: string): ControlReply {
    const run = this.target(run_uid, "stop");
    run.control.stop();
    return { run_uid: run.info.run_uid, effect: "stopping" };
  }

  async abort(run_uid: string | undefined, reason: string): Promise<ControlReply> {
    if (run_uid !== undefined && this.queue.find(run_uid)) {
      const removed = this.queue.remove(run_uid);
      await this.persist();
      await this.dropQueued(removed, reason);
      return { run_uid: run_uid as Uid, effect: "removed" };
    }
    const run = this.target(run_uid, "abort");
    run.control.abort(reason);
    return { run_uid: run.info.run_uid, effect: "aborting" };
  }

  queueReply(): QueueReply {
    return { current: this.current ? { ...this.current.info } : null, queued: this.queue.list().map((p) => p.info) };
  }

  async moveInQueue(run_uid: string, position: number): Promise<QueueReply> {
    this.queue.move(run_uid, position);
    await this.persist();
    return this.queueReply();
  }

  async removeFromQueue(run_uid: string): Promise<QueueReply> {
    const removed = this.queue.remove(run_uid);
    await this.persist();
    await this.dropQueued(removed, "removed from the queue before it started");
    return this.queueReply();
  }

  /** A queued run that never ran still gets its start and stop documents, so whoever follows it learns how it ended. */
  private async dropQueued(p: Pending, reason: string): Promise<void> {
    const docs = new RunDocuments(this.env.js, this.env.deps.nc, p.run_uid);
    const start = await docs.start({ plan_name: p.plan.name, plan_args: p.info.params, session_id: p.info.session_id, num_points: 0, versions: { gently: VERSION } });
    await docs.stop("abort", reason, p.plan.name, (stop) => {
      this.history.add({
        run_uid: p.run_uid,
        plan: p.plan.name,
        params: p.info.params,
        session_id: p.info.session_id,
        started: new Date(start.time * 1000).toISOString(),
        ended: new Date(stop.time * 1000).toISOString(),
        exit_status: "abort",
        reason,
        volume_uids: [],
      });
      this.finishedCount++;
    });
  }

  status(): RunnerStatus {
    const c = this.current;
    const state: RunnerStatus["state"] = c ? c.control.state : "idle";
    return { state, current: c ? { ...c.info } : null, queue_length: this.queue.length, finished: this.finishedCount };
  }

  /** Service stop: queued runs are dropped, running ones aborted and waited for (teardown included). */
  async close(reason: string): Promise<void> {
    this.closing = true;
    const dropped = this.queue.drain();
    await this.persist();
    for (const p of dropped) await this.dropQueued(p, reason).catch(() => undefined);
    const running = [this.current, ...this.readers.values()].filter((r): r is Running => r !== null);
    for (const r of running) r.control.abort(reason);
    await Promise.allSettled(running.map((r) => r.finished));
  }
}
