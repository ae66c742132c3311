import type { NatsConnection } from "@nats-io/transport-node";
import { decodeJson, type Logger, readStored } from "@gently/bus";
import { RunStartDoc, RunStopDoc, streams, subjects, type HistoryEntry } from "@gently/protocol";

const iso = (unixSeconds: number) => new Date(unixSeconds * 1000).toISOString();

function entryOf(start: RunStartDoc, stop: RunStopDoc): HistoryEntry {
  return {
    run_uid: start.uid,
    plan: start.plan_name,
    params: start.plan_args,
    session_id: start.session_id,
    started: iso(start.time),
    ended: iso(stop.time),
    exit_status: stop.exit_status,
    reason: stop.reason,
    volume_uids: stop.volume_uids,
  };
}

/**
 * Finished runs. The run documents in the RUNS stream are the record: at
 * startup the history is rebuilt from every start and stop document, so it
 * survives a plan-runner restart without a second store. A start without a
 * stop is a run that was cut off by a crash.
 */
export class RunHistory {
  private readonly entries: HistoryEntry[] = [];

  static async load(nc: NatsConnection, logger: Logger): Promise<{ history: RunHistory; interrupted: RunStartDoc[] }> {
    const read = async <T>(kind: "start" | "stop", parse: (body: unknown) => T): Promise<T[]> => {
      const stored = await readStored(nc, streams.runs.name, subjects.run.doc("*", kind));
      const docs: T[] = [];
      for (const m of stored) {
        try {
          docs.push(parse(decodeJson(m.data)));
        } catch (err) {
          logger.warn({ subject: m.subject, seq: m.seq, err: String(err) }, "skipping a run document that fails its schema");
        }
      }
      return docs;
    };
    const starts = await read("start", (b) => RunStartDoc.parse(b));
    const stops = new Map((await read("stop", (b) => RunStopDoc.parse(b))).map((s) => [s.run_start, s]));
    const history = new RunHistory();
    const interrupted: RunStartDoc[] = [];
    for (const start of starts) {
      const stop = stops.get(start.uid);
      if (stop) history.entries.push(entryOf(start, stop));
      else interrupted.push(start);
    }
    history.entries.sort((a, b) => a.ended.localeCompare(b.ended));
    return { history, interrupted };
  }

  add(entry: HistoryEntry): void {
    this.entries.push(entry);
  }

  get size(): number {
    return this.entries.length;
  }

  /** Whether the run has ended (it started once: it must not run again). */
  has(run_uid: string): boolean {
    return this.entries.some((e) => e.run_uid === run_uid);
  }

  /** Newest first. */
  list(opts: { limit: number; session_id?: string }): HistoryEntry[] {
    const out: HistoryEntry[] = [];
    for (let i = this.entries.length - 1; i >= 0 && out.length < opts.limit; i--) {
      const e = this.entries[i]!;
      if (opts.session_id === undefined || e.session_id === opts.session_id) out.push(e);
    }
    return out;
  }
}
