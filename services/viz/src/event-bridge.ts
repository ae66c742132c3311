import type { NatsConnection } from "@nats-io/transport-node";
import { DeliverPolicy, type Consumer, type ConsumerMessages, type JsMsg } from "@nats-io/jetstream";
import { decodeJson, jetStreamOf, type Logger } from "@gently/bus";
import { DerivedWritten, DOC_SCHEMAS, isDocKind, RunProgress, streams, subjects, VolumeFailed, VolumeWritten } from "@gently/protocol";
import type { z } from "zod";
import type { EventCursor } from "./event-cursor";
import type { StoragePaths } from "./storage-paths";

/** One bus message as the browser sees it. */
export interface BridgedEvent {
  /** SSE event name */
  event: "volume.written" | "volume.failed" | "derived.written" | "run.progress" | "run.doc";
  stream: keyof EventCursor;
  seq: number;
  subject: string;
  run_uid?: string;
  /** document kind (start, descriptor, event, stop, ...) of a run document */
  kind?: string;
  body: unknown;
}

const RUN_SUBJECT = /^gently\.run\.([0-9A-Za-z]{21})\.(?:(progress)|doc\.([a-z_]+))$/;

const DATA_SCHEMAS: Record<string, [BridgedEvent["event"], z.ZodType]> = {
  [subjects.volume.written]: ["volume.written", VolumeWritten],
  [subjects.volume.failed]: ["volume.failed", VolumeFailed],
  [subjects.derived.written]: ["derived.written", DerivedWritten],
};

/** Turns a stream message into the event a browser gets; null for subjects viz does not forward or bodies that fail their schema. */
export function bridgeMessage(stream: keyof EventCursor, m: Pick<JsMsg, "subject" | "seq" | "data">): BridgedEvent | null {
  const base = { stream, seq: m.seq, subject: m.subject };
  let body: unknown;
  try {
    body = decodeJson(m.data);
  } catch {
    return null;
  }
  if (stream === "data") {
    const known = DATA_SCHEMAS[m.subject];
    if (!known) return null;
    const parsed = known[1].safeParse(body);
    return parsed.success ? { ...base, event: known[0], body: parsed.data } : null;
  }
  const run = RUN_SUBJECT.exec(m.subject);
  if (!run) return null;
  if (run[2]) {
    const progress = RunProgress.safeParse(body);
    return progress.success ? { ...base, event: "run.progress", run_uid: run[1], body: progress.data } : null;
  }
  const kind = run[3];
  if (!isDocKind(kind)) return null;
  const doc = DOC_SCHEMAS[kind].safeParse(body);
  return doc.success ? { ...base, event: "run.doc", run_uid: run[1], kind, body: doc.data } : null;
}

export interface EventFeed {
  stop(): Promise<void>;
}

/** The position of "now": the last sequence of each stream. */
export async function currentCursor(nc: NatsConnection): Promise<EventCursor> {
  const { jsm } = await jetStreamOf(nc);
  const [data, runs] = await Promise.all([jsm.streams.info(streams.data.name), jsm.streams.info(streams.runs.name)]);
  return { data: data.state.last_seq, runs: runs.state.last_seq };
}

/**
 * Whether a data event may reach pages: the file it announces must be where
 * such files live (volumes/ or derived/) and exist. Any account that may
 * publish announcements could otherwise show pages any path it likes.
 */
async function announcesDataFile(event: BridgedEvent, storage: StoragePaths): Promise<boolean> {
  switch (event.event) {
    case "volume.written": {
      // storage_path: the file under this host's root, wherever the writer's host sees the storage
      const body = event.body as VolumeWritten;
      return storage.isAnnouncedDataFile(body.storage_path ?? body.path, "volumes");
    }
    case "derived.written":
      return storage.isAnnouncedDataFile((event.body as DerivedWritten).path, "derived");
    default:
      return true;
  }
}

/**
 * Follows GENTLY_DATA and GENTLY_RUNS for one client with an ordered
 * consumer each, from just after `start`. Each message reaches `onEvent`
 * with the cursor that includes it; a message that is not forwarded (null:
 * not for pages, failing its schema, or announcing a file that is not a data
 * file) still advances its stream's position. stop() deletes both consumers
 * at once (an ordered consumer otherwise stays on the server for minutes).
 */
export async function openEventFeed(
  nc: NatsConnection,
  storage: StoragePaths,
  start: EventCursor,
  onEvent: (event: BridgedEvent | null, cursor: EventCursor) => void,
  logger: Logger,
): Promise<EventFeed> {
  const { js } = await jetStreamOf(nc);
  const cursor = { ...start };
  const feeds: { consumer: Consumer; messages: ConsumerMessages; done: Promise<void> }[] = [];
  const stop = async () => {
    for (const f of feeds) await f.messages.close();
    await Promise.all(feeds.map((f) => f.done));
    await Promise.all(feeds.map((f) => f.consumer.delete().catch(() => undefined)));
  };
  try {
    for (const stream of ["data", "runs"] as const) {
      const consumer = await js.consumers.get(streams[stream].name, {
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: start[stream] + 1,
      });
      const messages = await consumer.consume();
      const done = (async () => {
        for await (const m of messages) {
          if (m.seq <= cursor[stream]) continue;
          cursor[stream] = m.seq;
          let event = bridgeMessage(stream, m);
          if (event && !(await announcesDataFile(event, storage))) {
            logger.warn({ subject: m.subject, seq: m.seq, path: (event.body as { path?: string }).path }, "announcement names no data file; not shown to pages");
            event = null;
          }
          onEvent(event, { ...cursor });
        }
      })().catch((err) => logger.warn({ err, stream }, "event feed ended"));
      feeds.push({ consumer, messages, done });
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { stop };
}
