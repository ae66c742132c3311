import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { decodeJson, type Logger, readStored, subscribeValidated } from "@gently/bus";
import { GentlyError, streams, subjects, VolumeFailed, VolumeWritten } from "@gently/protocol";

interface Waiter {
  since: number;
  resolve(written: VolumeWritten): void;
  reject(err: GentlyError): void;
}

/** Slack for clocks and for a message stored just before its waiter registered. */
const CATCH_UP_SLACK_MS = 5_000;

/**
 * The writer's announcements, matched to the volumes this plan runner is
 * waiting for. One pair of core subscriptions for the whole service; a
 * waiter is registered before the acquisition starts, so no announcement can
 * arrive unseen while connected. After a reconnect, what the stream GENTLY_DATA
 * stored meanwhile is read back, so an announcement made during the gap is
 * not missed either.
 */
export class VolumeAnnouncements {
  private readonly waiters = new Map<string, Waiter>();
  private readonly subs: Subscription[];

  constructor(
    private readonly nc: NatsConnection,
    private readonly logger: Logger,
  ) {
    this.subs = [
      subscribeValidated(nc, subjects.volume.written, VolumeWritten, (w) => this.written(w), { logger, requiredFor: "volume outcomes" }),
      subscribeValidated(nc, subjects.volume.failed, VolumeFailed, (f) => this.failed(f), { logger, requiredFor: "volume outcomes" }),
    ];
    void this.catchUpAfterReconnects();
  }

  private written(w: VolumeWritten): void {
    this.waiters.get(w.uid)?.resolve(w);
  }

  private failed(f: VolumeFailed): void {
    this.waiters.get(f.uid)?.reject(new GentlyError(f.code, `the writer could not write volume ${f.uid}: ${f.reason}`));
  }

  /** Waits for the announcement of one uid; cancel() forgets it (the promise then never settles). */
  expect(uid: string): { written: Promise<VolumeWritten>; cancel(): void } {
    let cancel = () => undefined as void;
    const written = new Promise<VolumeWritten>((resolve, reject) => {
      this.waiters.set(uid, {
        since: Date.now(),
        resolve: (w) => {
          this.waiters.delete(uid);
          resolve(w);
        },
        reject: (e) => {
          this.waiters.delete(uid);
          reject(e);
        },
      });
      cancel = () => void this.waiters.delete(uid);
    });
    // a caller that stops waiting must not leave an unhandled rejection behind
    written.catch(() => undefined);
    return { written, cancel };
  }

  /** Settles every waiter whose announcement the stream stored since the oldest of them registered. */
  async catchUp(): Promise<void> {
    if (this.waiters.size === 0) return;
    const since = new Date(Math.min(...[...this.waiters.values()].map((w) => w.since)) - CATCH_UP_SLACK_MS);
    for (const subject of [subjects.volume.written, subjects.volume.failed]) {
      for (const m of await readStored(this.nc, streams.data.name, subject, { since })) {
        const body = decodeJson(m.data);
        if (subject === subjects.volume.written) {
          const w = VolumeWritten.safeParse(body);
          if (w.success) this.written(w.data);
        } else {
          const f = VolumeFailed.safeParse(body);
          if (f.success) this.failed(f.data);
        }
      }
    }
  }

  private async catchUpAfterReconnects(): Promise<void> {
    for await (const status of this.nc.status()) {
      if (status.type !== "reconnect") continue;
      this.catchUp().catch((err) => this.logger.warn({ err: String(err) }, "could not read back volume announcements after a reconnect"));
    }
  }

  close(): void {
    for (const sub of this.subs) sub.unsubscribe();
    this.waiters.clear();
  }
}
