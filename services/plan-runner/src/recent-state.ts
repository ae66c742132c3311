import type { NatsConnection } from "@nats-io/transport-node";
import { call } from "@gently/bus";
import { hw, type HwState } from "@gently/protocol";

/**
 * The hardware's state for checking submits: one hw.state read serves every
 * submit for `maxAgeMs` and concurrent submits share the read in flight, so
 * a burst of submits is not a burst of requests to the hardware (whose event
 * loop may be busy with frames). A run is checked again with a fresh read
 * when it starts; this only decides what is refused at once.
 */
export class RecentHwState {
  private latest: { state: HwState; at: number } | null = null;
  private inFlight: Promise<HwState> | null = null;

  constructor(
    private readonly nc: NatsConnection,
    private readonly maxAgeMs: number,
  ) {}

  async read(): Promise<HwState> {
    if (this.latest && performance.now() - this.latest.at <= this.maxAgeMs) return this.latest.state;
    if (!this.inFlight) {
      const asked = performance.now();
      this.inFlight = call(this.nc, hw.state, {})
        .then((state) => {
          // aged from when it was asked for: the state is at least that old
          this.latest = { state, at: asked };
          return state;
        })
        .finally(() => (this.inFlight = null));
    }
    return this.inFlight;
  }
}
