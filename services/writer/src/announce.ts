import type { JetStreamClient, PubAck } from "@nats-io/jetstream";
import { publishDurable, type Logger } from "@gently/bus";
import { subjects, VolumeFailed, VolumeWritten } from "@gently/protocol";

/** A finished file must be announced; keep trying through a NATS restart for this long. */
const GIVE_UP_AFTER_MS = 120_000;

/**
 * Durable announcements on GENTLY_DATA. The stream deduplicates by
 * Nats-Msg-Id, so a retry after a lost ack (or a second writer announcing the
 * same uid) is stored once: msgId = uid for written, failed-<uid> for failed.
 */
export class Announcer {
  private closed = false;

  constructor(
    private readonly js: JetStreamClient,
    private readonly logger: Logger,
  ) {}

  written(body: VolumeWritten): Promise<PubAck> {
    return this.publish(subjects.volume.written, VolumeWritten, body, body.uid);
  }

  failed(body: VolumeFailed): Promise<PubAck> {
    return this.publish(subjects.volume.failed, VolumeFailed, body, `failed-${body.uid}`);
  }

  /** Stops retrying: an announcement still failing after this is logged and dropped. */
  close(): void {
    this.closed = true;
  }

  private publish(
    subject: string,
    schema: typeof VolumeWritten | typeof VolumeFailed,
    body: VolumeWritten | VolumeFailed,
    msgId: string,
  ): Promise<PubAck> {
    return publishDurable(this.js, subject, schema, body as never, msgId, {
      giveUpAfterMs: GIVE_UP_AFTER_MS,
      shouldStop: () => this.closed,
      logger: this.logger,
    });
  }
}
