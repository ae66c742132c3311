import type { NatsConnection } from "@nats-io/transport-node";
import { call, publishValidated } from "@gently/bus";
import {
  AcquisitionEnd,
  frameSink,
  FrameDescriptor,
  GentlyError,
  subjects,
  type AcquisitionBegin,
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
  async begin(begin: AcquisitionBegin): Promise<{ writer: string }> {
    const contract = { ...frameSink.begin, subject: subjects.frames.begin(begin.acq_id) };
    try {
      const reply = await call(this.nc, contract, begin, { timeoutMs: this.timeoutMs });
      return { writer: reply.writer };
    } catch (err) {
      if (err instanceof GentlyError && (err.code === "unavailable" || err.code === "timeout")) {
        const why = err.code === "timeout" ? `no writer answered within ${this.timeoutMs} ms` : "nothing answers";
        throw new GentlyError("unavailable", `no writer is running: ${why} ${contract.subject}; refusing to acquire frames nobody would store`);
      }
      throw err;
    }
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
