import type { NatsConnection } from "@nats-io/transport-node";
import type { z } from "zod";
import type { JetStreamClient } from "@nats-io/jetstream";
import { publishDurable, publishValidated } from "@gently/bus";
import {
  DOC_SCHEMAS,
  newUid,
  RunProgress,
  subjects,
  type DataKey,
  type DocKind,
  type ExitStatus,
  type RunStartDoc,
  type RunStopDoc,
  type Uid,
  type VolumeWritten,
} from "@gently/protocol";

const UNIT_SUFFIXES: Record<string, string> = { _um: "um", _deg: "deg", _ms: "ms", _s: "s" };

function unitsOf(key: string): string | undefined {
  const suffix = Object.keys(UNIT_SUFFIXES).find((s) => key.endsWith(s));
  return suffix ? UNIT_SUFFIXES[suffix] : undefined;
}

/** A data key described from its first value: units come from the name's suffix (x_um → um). */
export function dataKeyOf(key: string, value: unknown, source: string): DataKey {
  const dtype: DataKey["dtype"] = Array.isArray(value)
    ? "array"
    : typeof value === "number"
      ? Number.isInteger(value)
        ? "integer"
        : "number"
      : typeof value === "string"
        ? "string"
        : typeof value === "boolean"
          ? "boolean"
          : "object";
  const units = unitsOf(key);
  return { source, dtype, shape: Array.isArray(value) ? [value.length] : [], ...(units ? { units } : {}) };
}

const now = () => Date.now() / 1000;

/**
 * Publishes one run's event-model documents, in order, into the RUNS stream
 * (deduplicated by document uid), and its progress on core NATS (the stream
 * keeps those too). Descriptors are emitted the first time a stream name is
 * used.
 */
export class RunDocuments {
  private readonly descriptors = new Map<string, { uid: Uid; seq: number }>();
  private readonly volumeUids: Uid[] = [];

  constructor(
    private readonly js: JetStreamClient,
    private readonly nc: NatsConnection,
    readonly runUid: Uid,
  ) {}

  private async publish<K extends DocKind>(kind: K, doc: z.input<(typeof DOC_SCHEMAS)[K]>): Promise<void> {
    const body = doc as { uid: string };
    await publishDurable(this.js, subjects.run.doc(this.runUid, kind), DOC_SCHEMAS[kind], doc, body.uid);
  }

  async start(fields: Omit<RunStartDoc, "uid" | "time">): Promise<RunStartDoc> {
    const doc: RunStartDoc = { uid: this.runUid, time: now(), ...fields };
    await this.publish("start", doc);
    return doc;
  }

  private async descriptor(stream: string, data: Record<string, unknown>, source: string): Promise<{ uid: Uid; seq: number }> {
    let d = this.descriptors.get(stream);
    if (!d) {
      d = { uid: newUid(), seq: 0 };
      const data_keys = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, dataKeyOf(k, v, source)]));
      await this.publish("descriptor", { uid: d.uid, run_start: this.runUid, time: now(), name: stream, data_keys });
      this.descriptors.set(stream, d);
    }
    return d;
  }

  /** One reading; with a volume, its stream_resource and stream_datum come first and the event names the volume. */
  async event(stream: string, data: Record<string, unknown>, opts: { source: string; volume?: VolumeWritten } = { source: "plan" }): Promise<void> {
    const descriptor = await this.descriptor(stream, data, opts.source);
    const seq = descriptor.seq + 1;
    if (opts.volume) await this.volume(opts.volume, descriptor.uid, seq);
    descriptor.seq = seq;
    const time = now();
    await this.publish("event", {
      uid: newUid(),
      descriptor: descriptor.uid,
      time,
      seq_num: seq,
      data,
      timestamps: Object.fromEntries(Object.keys(data).map((k) => [k, time])),
    });
  }

  private async volume(v: VolumeWritten, descriptor: Uid, seq: number): Promise<void> {
    const frames = v.shape.slice(0, -2).reduce((n, d) => n * d, 1);
    await this.publish("stream_resource", {
      uid: v.uid,
      run_start: this.runUid,
      data_key: v.data_type,
      mimetype: "image/tiff; application=ome",
      uri: `file://${v.path}`,
      path: v.path,
      shape: v.shape,
      dtype: v.dtype,
      // sweep_mode: who moved the sheet through the volume (the controller, or the hardware service slice by slice)
      parameters: {
        dimension_order: v.metadata.dimension_order,
        cameras: v.metadata.cameras,
        ...(v.metadata.sweep_mode ? { sweep_mode: v.metadata.sweep_mode } : {}),
      },
    });
    await this.publish("stream_datum", {
      uid: newUid(),
      stream_resource: v.uid,
      descriptor,
      indices: { start: 0, stop: frames },
      seq_nums: { start: seq, stop: seq + 1 },
    });
    this.volumeUids.push(v.uid);
  }

  get volumes(): readonly Uid[] {
    return this.volumeUids;
  }

  /** `beforePublish` sees the document first: whoever reads the stop document finds the run's bookkeeping done. */
  async stop(exit_status: ExitStatus, reason: string, plan_name: string, beforePublish?: (doc: RunStopDoc) => void): Promise<RunStopDoc> {
    const doc: RunStopDoc = {
      uid: newUid(),
      run_start: this.runUid,
      time: now(),
      exit_status,
      reason,
      plan_name,
      num_events: Object.fromEntries([...this.descriptors].map(([name, d]) => [name, d.seq])),
      volume_uids: [...this.volumeUids],
    };
    beforePublish?.(doc);
    await this.publish("stop", doc);
    return doc;
  }

  progress(p: Omit<RunProgress, "run_uid">): void {
    publishValidated(this.nc, subjects.run.progress(this.runUid), RunProgress, { run_uid: this.runUid, ...p });
  }
}
