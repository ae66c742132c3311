import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { decodeJson, type Logger } from "@gently/bus";
import { DeviceState, PreviewFrame, subjects } from "@gently/protocol";
import type { z } from "zod";
import { SseStream } from "./sse";

/** SSE event name and schema of each live subject. */
const LIVE_EVENTS: Record<string, [string, z.ZodType]> = {
  [subjects.device.state]: ["device.state", DeviceState],
  [subjects.device.preview]: ["device.preview", PreviewFrame],
};

/**
 * Forwards the hardware's live subjects (device state, previews) to every
 * open SSE stream: one core NATS subscription for the server, each body
 * validated and serialised once. Nothing is stored or replayed: a page sees
 * the present.
 */
export class LiveFeed {
  private readonly sub: Subscription;
  private refused = 0;

  constructor(
    nc: NatsConnection,
    private readonly streams: Set<unknown>,
    private readonly logger: Logger,
  ) {
    this.sub = nc.subscribe(subjects.device.all, { callback: (err, m) => (err ? undefined : this.forward(m.subject, m.data)) });
  }

  private forward(subject: string, data: Uint8Array): void {
    const known = LIVE_EVENTS[subject];
    if (!known || this.streams.size === 0) return;
    let body: unknown;
    try {
      body = known[1].parse(decodeJson(data));
    } catch (err) {
      // Counted, logged at the first and then every 100th: a broken publisher would otherwise flood the log.
      if (this.refused++ % 100 === 0) this.logger.warn({ subject, err: String(err), refused: this.refused }, "live message fails its schema; not forwarded");
      return;
    }
    const json = JSON.stringify(body);
    for (const stream of this.streams) if (stream instanceof SseStream) stream.sendLive(known[0], json);
  }

  stop(): void {
    this.sub.unsubscribe();
  }
}
