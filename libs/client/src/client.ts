import { existsSync } from "node:fs";
import type { NatsConnection } from "@nats-io/transport-node";
import { call } from "@gently/bus";
import { volumePathFor } from "@gently/storage";
import {
  datastore,
  GentlyError,
  plan,
  Uid,
  type ControlReply,
  type HistoryEntry,
  type PlanName,
  type PlanParams,
  type QueueReply,
  type RunnerStatus,
  type ToolDefinition,
} from "@gently/protocol";
import { connectNats, type ClientOptions } from "./connect";
import { RunHandle } from "./run-handle";
import { systemStatus, type SystemStatus } from "./status";
import { readVolumeFile, readVolumeRegion, type LoadedVolume, type VolumeRegion } from "@gently/ome-tiff";

export interface GentlyClientOptions extends ClientOptions {
  /** local storage root to read volumes from; default GENTLY_STORAGE, else the DataStore says where files are */
  storage?: string;
  /** request timeout of control calls (default 10 s) */
  timeoutMs?: number;
}

/**
 * What the copilot (and the CLI) use: plans as LLM tools, submitting and
 * following runs, run control, the queue and history, and volumes by uid.
 */
export class GentlyClient {
  private constructor(
    readonly nc: NatsConnection,
    private readonly storage: string | undefined,
    private readonly timeoutMs: number,
  ) {}

  static async connect(opts: GentlyClientOptions = {}): Promise<GentlyClient> {
    const nc = await connectNats({ name: "gently-client", ...opts });
    return new GentlyClient(nc, opts.storage ?? (process.env.GENTLY_STORAGE || undefined), opts.timeoutMs ?? 10_000);
  }

  private call<E extends Parameters<typeof call>[1]>(contract: E, body: Parameters<typeof call<E>>[2]) {
    return call(this.nc, contract, body, { timeoutMs: this.timeoutMs });
  }

  /** Every plan as an LLM tool definition ({name, description, input_schema}). */
  async tools(): Promise<ToolDefinition[]> {
    return (await this.call(plan.tools, {})).tools;
  }

  /** Validates and queues a plan; the handle follows it. A refusal (e.g. limit_violation with every violation) is thrown. */
  async submit<P extends PlanName>(name: P | string, params: PlanParams<P> | Record<string, unknown> = {}, opts: { session_id?: string } = {}): Promise<RunHandle> {
    const reply = await this.call(plan.submit, {
      plan: name,
      params: params as Record<string, unknown>,
      ...(opts.session_id ? { session_id: opts.session_id } : {}),
    });
    return new RunHandle(this.nc, reply.run_uid, reply.position);
  }

  /** A handle on a run submitted earlier (by anyone): its documents are replayed from the start. */
  run(run_uid: string): RunHandle {
    const uid = Uid.safeParse(run_uid);
    if (!uid.success) throw new GentlyError("invalid_request", `not a run uid: ${JSON.stringify(run_uid)}`, "run_uid");
    return new RunHandle(this.nc, uid.data);
  }

  /** Whether a run is known: queued, running, or with stored documents. */
  async knowsRun(run_uid: string): Promise<boolean> {
    const handle = this.run(run_uid);
    if ((await this.call(plan.documents, { run_uid: handle.run_uid, limit: 1 })).documents.length > 0) return true;
    const queue = await this.queue();
    return queue.current?.run_uid === run_uid || queue.queued.some((q) => q.run_uid === run_uid);
  }

  pause(run_uid?: string): Promise<ControlReply> {
    return this.call(plan.pause, run_uid ? { run_uid: run_uid as Uid } : {});
  }

  resume(run_uid?: string): Promise<ControlReply> {
    return this.call(plan.resume, run_uid ? { run_uid: run_uid as Uid } : {});
  }

  /** Aborts the run in progress (or the given one; a queued run is removed). */
  abort(run_uid?: string, reason?: string): Promise<ControlReply> {
    return this.call(plan.abort, { ...(run_uid ? { run_uid: run_uid as Uid } : {}), ...(reason ? { reason } : {}) });
  }

  /** Lets the current step finish, then ends the run successfully. */
  stop(run_uid?: string): Promise<ControlReply> {
    return this.call(plan.stop, run_uid ? { run_uid: run_uid as Uid } : {});
  }

  queue(): Promise<QueueReply> {
    return this.call(plan.queue, {});
  }

  moveInQueue(run_uid: string, position: number): Promise<QueueReply> {
    return this.call(plan.queueMove, { run_uid: run_uid as Uid, position });
  }

  removeFromQueue(run_uid: string): Promise<QueueReply> {
    return this.call(plan.queueRemove, { run_uid: run_uid as Uid });
  }

  async history(opts: { limit?: number; session_id?: string } = {}): Promise<HistoryEntry[]> {
    return (await this.call(plan.history, opts)).runs;
  }

  /** What the plan runner is doing. */
  status(): Promise<RunnerStatus> {
    return this.call(plan.status, {});
  }

  /** Which services answer. */
  services(): Promise<SystemStatus> {
    return systemStatus(this.nc);
  }

  /** Where a volume's file is: under the local storage root when there is one, else where the DataStore says. */
  async volumePath(uid: string): Promise<string> {
    if (this.storage) {
      const local = volumePathFor(this.storage, uid);
      if (existsSync(local)) return local;
    }
    const item = await this.call(datastore.get, { uid: uid as Uid });
    if (!item.path) throw new GentlyError("not_found", `item ${uid} has no file`, "uid");
    return item.path;
  }

  /** A volume or image by uid, pixels and all: {shape, dtype, data, metadata}. */
  async loadVolume(uid: string): Promise<LoadedVolume> {
    return readVolumeFile(await this.volumePath(uid));
  }

  /** Plane z of channel c (default 0) of a volume, shape [y, x]: one plane of I/O. */
  async loadSlice(uid: string, z: number, c = 0): Promise<LoadedVolume> {
    const region = await readVolumeRegion(await this.volumePath(uid), { c, z: [z, z + 1] });
    return { ...region, shape: region.shape.slice(1) };
  }

  /** Part of a volume: channel c, half-open ranges of z, y and x (absent: all of it), shape [z, y, x]. */
  async loadSubVolume(uid: string, region: VolumeRegion): Promise<LoadedVolume> {
    return readVolumeRegion(await this.volumePath(uid), region);
  }

  async close(): Promise<void> {
    await this.nc.close();
  }
}

/** Connects a client to the gently system. */
export function connect(opts: GentlyClientOptions = {}): Promise<GentlyClient> {
  return GentlyClient.connect(opts);
}
