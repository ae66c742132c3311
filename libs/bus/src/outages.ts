import type { NatsConnection } from "@nats-io/transport-node";

/** Outages remembered per connection; older ones are forgotten (a step lasts minutes, not days). */
const KEPT_OUTAGES = 100;

/**
 * When a connection was without NATS. A step that fails after the bus went
 * away can then say so ("lost the bus for 12.3 s") instead of naming the
 * timeout the outage caused downstream (a writer's "no frame for 30000 ms").
 */
export class BusOutages {
  private downSince: number | null = null;
  private readonly past: { from: number; to: number }[] = [];

  constructor(nc: NatsConnection) {
    void this.watch(nc);
  }

  /** Milliseconds without the bus since `since` (epoch ms); an outage still going counts up to now. */
  lostSince(since: number): number {
    const now = Date.now();
    const spans = [...this.past, ...(this.downSince === null ? [] : [{ from: this.downSince, to: now }])];
    return spans.reduce((sum, s) => sum + Math.max(0, s.to - Math.max(s.from, since)), 0);
  }

  private async watch(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (status.type === "disconnect" && this.downSince === null) this.downSince = Date.now();
      if (status.type === "reconnect" && this.downSince !== null) {
        this.past.push({ from: this.downSince, to: Date.now() });
        if (this.past.length > KEPT_OUTAGES) this.past.shift();
        this.downSince = null;
      }
    }
  }
}

const trackers = new WeakMap<NatsConnection, BusOutages>();

/** The outage record of a connection, kept from the first call on for the connection's life. */
export function busOutages(nc: NatsConnection): BusOutages {
  let tracker = trackers.get(nc);
  if (!tracker) {
    tracker = new BusOutages(nc);
    trackers.set(nc, tracker);
  }
  return tracker;
}
