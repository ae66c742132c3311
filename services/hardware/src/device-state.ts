import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "@gently/bus";
import { DEVICE_STATE_INTERVAL_MS, subjects, type DeviceActivity, type DeviceState } from "@gently/protocol";
import type { Microscope } from "./microscope";

/**
 * Publishes gently.device.state: positions read back from the core (where
 * the devices are, not where they were sent), presets and activity, every
 * DEVICE_STATE_INTERVAL_MS and whenever `publishNow` is called after a change.
 */
export class DeviceStatePublisher {
  private timer: NodeJS.Timeout | null = null;
  private failing = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly microscope: Microscope,
    private readonly activity: () => DeviceActivity | null,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => this.publishNow(), DEVICE_STATE_INTERVAL_MS);
    this.publishNow();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  publishNow(): void {
    let body: DeviceState;
    try {
      body = {
        position: this.microscope.position(),
        laser: this.microscope.laser(),
        led: this.microscope.led(),
        activity: this.activity(),
        published_us: Math.round((performance.timeOrigin + performance.now()) * 1000),
      };
      if (this.failing) this.logger.info("device state readable again");
      this.failing = false;
    } catch (err) {
      // Logged once per outage: a device that cannot be read every 250 ms would flood the log.
      if (!this.failing) this.logger.warn({ err: String(err) }, "could not read the device state");
      this.failing = true;
      return;
    }
    try {
      this.nc.publish(subjects.device.state, JSON.stringify(body));
    } catch {
      // NATS closed while stopping: nothing to tell anyone.
    }
  }
}
