import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { call, instanceAnswers, publishValidated, subscribeValidated, type Logger } from "@gently/bus";
import {
  AcquisitionEnd,
  frameSink,
  FrameDescriptor,
  GentlyError,
  subjects,
  VolumeFailed,
  VolumeWritten,
  type AcquisitionBegin,
  type AcquisitionBeginReply,
} from "@gently/protocol";

/**
 * The hardware side of the frame protocol with the writer: a begin request
 * that must be answered before the first frame, one descriptor per frame
 * sitting in the ring, and an end message. Pixels never travel here.
 */
export class WriterLink {
  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs: number,
  ) {}

  /** Asks the writer to open a sink; no writer answering refuses the acquisition. */
  async begin(begin: AcquisitionBegin): Promise<AcquisitionBeginReply> {
    const contract = { ...frameSink.begin, subject: subjects.frames.begin(begin.acq_id) };
    try {
      return await call(this.nc, contract, begin, { timeoutMs: this.timeoutMs });
    } catch (err) {
      if (err instanceof GentlyError && (err.code === "unavailable" || err.code === "timeout")) {
        const why = err.code === "timeout" ? `no writer answered within ${this.timeoutMs} ms` : "nothing answers";
        throw new GentlyError("unavailable", `no writer is running: ${why} ${contract.subject}; refusing to acquire frames nobody would store`);
      }
      throw err;
    }
  }

  /** Calls `settled(uid)` for every volume the writer announces written or failed. */
  watchOutcomes(settled: (uid: string) => void, logger: Logger): Subscription {
    return subscribeValidated(this.nc, subjects.volume.all, VolumeWritten.or(VolumeFailed), (v) => settled(v.uid), {
      logger,
      requiredFor: "freeing ring slots of settled volumes",
    });
  }

  /** Whether the writer instance `writerId` (from a begin reply) still runs and is reachable. */
  answers(writerId: string): Promise<boolean> {
    return instanceAnswers(this.nc, "writer", writerId);
  }

  frame(frame: FrameDescriptor): void {
    publishValidated(this.nc, subjects.frames.frame(frame.acq_id), FrameDescriptor, frame);
  }

  /** Publishes the end and waits until the server has it, so it is not lost if the process stops next. */
  async end(end: AcquisitionEnd): Promise<void> {
    publishValidated(this.nc, subjects.frames.end(end.acq_id), AcquisitionEnd, end);
    await this.nc.flush().catch(() => undefined);
  }
}
