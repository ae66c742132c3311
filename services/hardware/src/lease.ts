import os from "node:os";
import type { NatsConnection } from "@nats-io/transport-node";
import { Kvm, type KV } from "@nats-io/kv";
import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import { buckets, GentlyError, HwState, newUid } from "@gently/protocol";
import type { Logger } from "@gently/bus";
import { envValue } from "@gently/config";

/** Who holds the microscope: shown in refusals and in state.owner. */
export interface LeaseHolder {
  instance: string;
  host: string;
  pid: number;
  since: string;
}

export interface LeaseOptions {
  logger: Logger;
  /** bucket max age: how long a dead holder's lease outlives it */
  ttlMs?: number;
  heartbeatMs?: number;
  /**
   * How long renewals may fail (JetStream unreachable) before the holder gives up. Longer than the
   * ttl: while JetStream is down nobody can take the key, and a cluster fail-over can take several
   * seconds; when JetStream answers again, a key someone else took ends the lease at once.
   */
  unreachableGraceMs?: number;
  /** called once when the lease is gone (taken by someone else, or not renewable for the grace period) */
  onLost: (reason: string) => void;
}

const KEY = "hardware";
export const LEASE_TTL_MS = 6_000;
export const LEASE_HEARTBEAT_MS = 2_000;
export const LEASE_UNREACHABLE_GRACE_MS = 30_000;

function isWrongLastSequence(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence || err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

/** A lease value that names no holder (corrupt, or written by something that is not a hardware service). */
export interface UnknownHolder {
  raw: string;
}

/** The holder a lease value names; anything that does not parse as one is an unknown holder, kept with its raw text. */
export function holderOf(raw: string): LeaseHolder | UnknownHolder {
  try {
    const parsed = HwState.shape.owner.safeParse(JSON.parse(raw));
    if (parsed.success) return parsed.data;
  } catch {
    // not JSON: an unknown holder
  }
  return { raw };
}

export function describeHolder(h: LeaseHolder | UnknownHolder): string {
  if ("raw" in h) return `an unknown holder (lease value ${JSON.stringify(h.raw.slice(0, 200))})`;
  return `instance ${h.instance} on host ${h.host} (pid ${h.pid}) since ${h.since}`;
}

/**
 * Exclusive ownership of the microscope through a JetStream KV key. The
 * bucket's max age is the lease's ttl; the holder rewrites the key every
 * heartbeat with an expected-revision check, so two holders can never both
 * believe they own it, and a holder that dies (even by SIGKILL) loses it
 * within one ttl.
 */
export class HardwareLease {
  private revision: number;
  private timer: NodeJS.Timeout | null = null;
  private lastRenewedMs = Date.now();
  private lost = false;
  private released = false;

  private constructor(
    private readonly kv: KV,
    readonly holder: LeaseHolder,
    revision: number,
    private readonly opts: Required<Omit<LeaseOptions, "logger" | "onLost">> & Pick<LeaseOptions, "logger" | "onLost">,
  ) {
    this.revision = revision;
  }

  /** Takes the lease, or refuses with GentlyError("conflict") naming the current holder. */
  static async acquire(nc: NatsConnection, opts: LeaseOptions): Promise<HardwareLease> {
    const ttlMs = opts.ttlMs ?? LEASE_TTL_MS;
    const heartbeatMs = opts.heartbeatMs ?? LEASE_HEARTBEAT_MS;
    const replicas = envValue("GENTLY_JS_REPLICAS");
    const kv = await new Kvm(nc).create(buckets.leases, { ttl: ttlMs, history: 1, replicas });
    const holder: LeaseHolder = { instance: newUid(), host: os.hostname(), pid: process.pid, since: new Date().toISOString() };
    // Twice: the holder's key may expire between our failed create and the read of it.
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const revision = await kv.create(KEY, JSON.stringify(holder));
        const lease = new HardwareLease(kv, holder, revision, {
          ...opts,
          ttlMs,
          heartbeatMs,
          unreachableGraceMs: opts.unreachableGraceMs ?? LEASE_UNREACHABLE_GRACE_MS,
        });
        lease.schedule();
        opts.logger.info({ holder, ttlMs, heartbeatMs }, "hardware lease acquired");
        return lease;
      } catch (err) {
        if (!isWrongLastSequence(err)) throw err;
      }
      const entry = await kv.get(KEY);
      if (entry && entry.operation === "PUT") {
        const current = holderOf(entry.string());
        throw new GentlyError(
          "conflict",
          `the microscope is already held by ${"raw" in current ? "" : "hardware "}${describeHolder(current)}; refusing to start a second hardware service ` +
            `(the lease expires ${ttlMs} ms after its holder stops renewing it)`,
          undefined,
          { holder: current },
        );
      }
    }
    throw new GentlyError("conflict", "the hardware lease changed hands twice while starting; refusing to start");
  }

  private schedule(): void {
    if (this.lost || this.released) return;
    this.timer = setTimeout(() => void this.renew(), this.opts.heartbeatMs);
  }

  private async renew(): Promise<void> {
    if (this.lost || this.released) return;
    try {
      this.revision = await this.kv.update(KEY, JSON.stringify(this.holder), this.revision, this.opts.heartbeatMs);
      this.lastRenewedMs = Date.now();
    } catch (err) {
      if (this.released) return;
      if (isWrongLastSequence(err)) {
        const entry = await this.kv.get(KEY).catch(() => undefined);
        if (entry?.operation === "PUT") {
          const current = holderOf(entry.string());
          // an earlier renewal landed but its reply was lost (e.g. a NATS node failed over): still ours
          if ("instance" in current && current.instance === this.holder.instance) {
            this.revision = entry.revision;
            this.lastRenewedMs = Date.now();
            this.opts.logger.info({ revision: entry.revision }, "hardware lease renewal had landed; continuing");
            return this.schedule();
          }
          return this.lose(`the hardware lease was taken by ${describeHolder(current)}`);
        }
        // null or a delete marker: the key aged out while JetStream could not take renewals
        // (a cluster failing over). Nobody else has taken the microscope meanwhile, so take the key
        // back; if another instance got there first, it is theirs. undefined: the read failed, retry.
        if (entry !== undefined) {
          const retaken = await this.kv.create(KEY, JSON.stringify(this.holder)).catch(() => null);
          if (retaken === null) return this.lose("the hardware lease expired and another instance took it");
          this.revision = retaken;
          this.lastRenewedMs = Date.now();
          this.opts.logger.warn({ revision: retaken }, "hardware lease had expired during a NATS outage; taken back");
          return this.schedule();
        }
      }
      const silentMs = Date.now() - this.lastRenewedMs;
      this.opts.logger.warn({ err: String(err), silentMs }, "hardware lease renewal failed; retrying");
      if (silentMs >= this.opts.unreachableGraceMs) {
        return this.lose(`the hardware lease could not be renewed for ${silentMs} ms`);
      }
    }
    this.schedule();
  }

  private lose(reason: string): void {
    if (this.lost) return;
    this.lost = true;
    this.opts.logger.error({ reason }, "hardware lease lost");
    this.opts.onLost(reason);
  }

  /** Stops renewing and deletes the key if it is still ours, so a successor need not wait for the ttl. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.lost) return;
    await this.kv.delete(KEY, { previousSeq: this.revision }).catch((err) => {
      this.opts.logger.warn({ err: String(err) }, "could not delete the hardware lease; it will expire");
    });
  }
}
