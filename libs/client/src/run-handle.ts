import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { call, decodeJson } from "@gently/bus";
import {
  GentlyError,
  parseRunDocument,
  plan,
  RunProgress,
  subjects,
  type ExitStatus,
  type RunDocument,
  type RunStartDoc,
  type RunStopDoc,
  type Uid,
  type VolumeRef,
} from "@gently/protocol";

/** How long a replay waits for the plan runner to answer (a restart, a NATS fail-over). */
const REPLAY_WAIT_MS = 60_000;

/** While a run's documents are followed: the first poll after a quiet page, and the slowest. */
const MIN_POLL_MS = 1_000;
const MAX_POLL_MS = 10_000;

/** Resolves a waiter at the next notify() (or at once if one came since the last wait), or after a time. */
class Wakeup {
  private pending = false;
  private resolve: (() => void) | null = null;

  notify(): void {
    if (this.resolve) {
      this.resolve();
      this.resolve = null;
    } else {
      this.pending = true;
    }
  }

  async wait(ms: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.resolve = resolve;
      timer = setTimeout(resolve, ms);
    });
    clearTimeout(timer);
    this.resolve = null;
  }
}

/** How a run ended, gathered from its documents. */
export interface RunResult {
  run_uid: Uid;
  plan_name: string;
  session_id: string;
  status: ExitStatus;
  reason: string;
  /** every file the run wrote (volumes and images), in order */
  volumes: VolumeRef[];
  volume_uids: Uid[];
  /** every event's data, by stream, in order */
  events: { stream: string; seq_num: number; data: Record<string, unknown> }[];
  /** the plan's summary (its "result" event), null when the run did not get that far */
  result: Record<string, unknown> | null;
  start: RunStartDoc;
  stop: RunStopDoc;
}

/**
 * One run, followed through its documents. The documents are replayed from
 * the run's start (the plan runner pages them out of GENTLY_RUNS), so a
 * handle made late sees everything; progress events are live only.
 */
export class RunHandle {
  private result: Promise<RunResult> | null = null;
  private progressSub: Subscription | null = null;
  private readonly listeners = new Set<(p: RunProgress) => void>();
  /** when the run last said anything (a document, or progress while someone listens): epoch ms */
  lastHeardAt = Date.now();

  constructor(
    private readonly nc: NatsConnection,
    readonly run_uid: Uid,
    /** place in the queue when submitted: 0 running now */
    readonly position = 0,
  ) {}

  /** Calls back with each progress message ({done, total, phase, message}); returns the unsubscribe. */
  onProgress(listener: (p: RunProgress) => void): () => void {
    this.listeners.add(listener);
    this.progressSub ??= this.nc.subscribe(subjects.run.progress(this.run_uid), {
      callback: (err, msg) => {
        if (err) return;
        const parsed = RunProgress.safeParse(decodeJson(msg.data));
        if (!parsed.success) return;
        this.lastHeardAt = Date.now();
        for (const l of this.listeners) l(parsed.data);
      },
    });
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.unsubscribeProgress();
    };
  }

  private unsubscribeProgress(): void {
    this.progressSub?.unsubscribe();
    this.progressSub = null;
  }

  /**
   * Every document of the run from its start, ending after its stop
   * document, each once and in order. The documents come from the plan
   * runner's replay (`gently.plan.documents`, paged by stream sequence); a
   * subscription to the run's live documents only wakes the reader, and a
   * poll (every second, slowing to every 10 s while nothing happens) covers
   * documents published while NATS was away. The client never uses
   * JetStream itself.
   */
  async *documents(): AsyncGenerator<RunDocument> {
    const wake = new Wakeup();
    const live = this.nc.subscribe(subjects.run.docs(this.run_uid), { callback: () => wake.notify() });
    try {
      await this.flushed();
      let afterSeq = 0;
      for (let idleMs = MIN_POLL_MS; ; idleMs = Math.min(idleMs * 2, MAX_POLL_MS)) {
        const page = await this.replayPage(afterSeq);
        for (const stored of page.documents) {
          afterSeq = stored.seq;
          const doc = parseRunDocument(stored.kind, stored.doc);
          this.lastHeardAt = Date.now();
          yield doc;
          if (doc.kind === "stop") return;
        }
        if (page.more) continue;
        if (page.documents.length > 0) idleMs = MIN_POLL_MS;
        await wake.wait(idleMs);
      }
    } finally {
      live.unsubscribe();
    }
  }

  /**
   * The live subscription reached the server. While NATS is away (restarting) a flush fails at
   * once; the subscription is sent again on reconnect, so wait for that rather than fail the run.
   */
  private async flushed(): Promise<void> {
    const deadline = Date.now() + REPLAY_WAIT_MS;
    for (;;) {
      try {
        return await this.nc.flush();
      } catch (err) {
        if (this.nc.isClosed() || Date.now() >= deadline) {
          throw new GentlyError(
            "unavailable",
            `NATS did not come back within ${REPLAY_WAIT_MS} ms while subscribing to the documents of run ${this.run_uid}: ${String((err as Error)?.message ?? err)}`,
          );
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  /** One page of stored documents, waiting out a plan runner that is restarting. */
  private async replayPage(afterSeq: number) {
    const deadline = Date.now() + REPLAY_WAIT_MS;
    for (let delay = 250; ; delay = Math.min(delay * 2, 2_000)) {
      try {
        return await call(this.nc, plan.documents, { run_uid: this.run_uid, after_seq: afterSeq });
      } catch (err) {
        const transient = err instanceof GentlyError && (err.code === "unavailable" || err.code === "timeout");
        if (!transient || this.nc.isClosed() || Date.now() + delay > deadline) throw err;
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /** Resolves when the run has ended (successfully or not), with what it produced. */
  done(): Promise<RunResult> {
    this.result ??= this.collect().finally(() => this.unsubscribeProgress());
    return this.result;
  }

  private async collect(): Promise<RunResult> {
    let start: RunStartDoc | null = null;
    const streamsByDescriptor = new Map<string, string>();
    const volumes: VolumeRef[] = [];
    const events: RunResult["events"] = [];
    for await (const d of this.documents()) {
      switch (d.kind) {
        case "start":
          start = d.doc;
          break;
        case "descriptor":
          streamsByDescriptor.set(d.doc.uid, d.doc.name);
          break;
        case "event":
          events.push({ stream: streamsByDescriptor.get(d.doc.descriptor) ?? "primary", seq_num: d.doc.seq_num, data: d.doc.data });
          break;
        case "stream_resource":
          volumes.push({ uid: d.doc.uid, path: d.doc.path, shape: d.doc.shape, dtype: d.doc.dtype, session_id: start?.session_id ?? "default" } as VolumeRef);
          break;
        case "stop": {
          if (!start) throw new Error(`run ${this.run_uid} has a stop document without a start`);
          const summary = events.filter((e) => e.stream === "result").at(-1);
          return {
            run_uid: this.run_uid,
            plan_name: start.plan_name,
            session_id: start.session_id,
            status: d.doc.exit_status,
            reason: d.doc.reason,
            volumes,
            volume_uids: d.doc.volume_uids,
            events,
            result: summary?.data ?? null,
            start,
            stop: d.doc,
          };
        }
        default:
          break;
      }
    }
    throw new Error(`the documents of run ${this.run_uid} ended without a stop document`);
  }
}
