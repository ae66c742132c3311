import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { subscribeValidated, type Logger } from "@gently/bus";
import { GentlyError, subjects, VolumeFailed, VolumeWritten } from "@gently/protocol";

interface Waiter {
  resolve(written: VolumeWritten): void;
  reject(err: GentlyError): void;
}

/**
 * The writer's announcements, matched to the volumes this plan runner is
 * waiting for. One pair of core subscriptions for the whole service; a
 * waiter is registered before the acquisition starts, so no announcement can
 * arrive unseen.
 */
export class VolumeAnnouncements {
  private readonly waiters = new Map<string, Waiter>();
  private readonly subs: Subscription[];

  constructor(nc: NatsConnection, logger: Logger) {
    this.subs = [
      subscribeValidated(nc, subjects.volume.written, VolumeWritten, (w) => this.waiters.get(w.uid)?.resolve(w), { logger }),
      subscribeValidated(
        nc,
        subjects.volume.failed,
        VolumeFailed,
        (f) => this.waiters.get(f.uid)?.reject(new GentlyError(f.code, `the writer could not write volume ${f.uid}: ${f.reason}`)),
        { logger },
      ),
    ];
  }

  /** Waits for the announcement of one uid; cancel() forgets it (the promise then never settles). */
  expect(uid: string): { written: Promise<VolumeWritten>; cancel(): void } {
    let cancel = () => undefined as void;
    const written = new Promise<VolumeWritten>((resolve, reject) => {
      this.waiters.set(uid, {
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

  close(): void {
    for (const sub of this.subs) sub.unsubscribe();
    this.waiters.clear();
  }
}
