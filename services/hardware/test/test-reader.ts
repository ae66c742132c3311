import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { decodeJson, encodeJson } from "@gently/bus";
import { AcquisitionBegin, AcquisitionEnd, FrameDescriptor, microServiceName, newUid, subjects } from "@gently/protocol";
import { openRing, type Ring } from "@gently/ring";

/**
 * The writer's side of the frame protocol, for tests: answers
 * frames.<acq>.begin, reads every announced frame out of the shared-memory
 * ring, and releases its slot (after an optional delay, to play a slow
 * writer; or never, to play a stuck one). Frames are handled strictly in
 * arrival order, as the real writer does. Like a writer instance it has an
 * id that answers `$SRV.PING` until `stop()` (a writer that died).
 */
export interface TestReaderOptions {
  /** sleep before releasing each slot */
  releaseDelayMs?: number;
  /** keep every slot FULL (a writer that stopped reading) */
  holdSlots?: boolean;
  /** copy frames into one reused buffer and keep only their descriptors (a long run; the bench) */
  discardPixels?: boolean;
}

export interface ReadFrame {
  descriptor: FrameDescriptor;
  data: Buffer;
}

export class TestReader {
  readonly id = `test-reader-${newUid()}`;
  readonly begins: AcquisitionBegin[] = [];
  readonly frames = new Map<string, ReadFrame[]>();
  readonly ends = new Map<string, AcquisitionEnd>();
  readonly errors: string[] = [];
  private readonly held: FrameDescriptor[] = [];
  private readonly subs: Subscription[] = [];
  private rings = new Map<string, Ring>();
  private queue: Promise<void> = Promise.resolve();
  private endWaiters = new Map<string, (end: AcquisitionEnd) => void>();

  constructor(
    private readonly nc: NatsConnection,
    public options: TestReaderOptions = {},
  ) {}

  async start(): Promise<void> {
    this.subs.push(
      this.nc.subscribe(subjects.frames.beginAll, {
        callback: (_err, msg) => {
          const begin = AcquisitionBegin.parse(decodeJson(msg.data));
          this.begins.push(begin);
          this.frames.set(begin.acq_id, []);
          msg.respond(encodeJson({ ready: true, writer: "test-reader", writer_id: this.id }));
        },
      }),
      this.nc.subscribe(`$SRV.PING.${microServiceName("writer")}.${this.id}`, {
        callback: (_err, msg) => {
          msg.respond(encodeJson({ type: "io.nats.micro.v1.ping_response", name: microServiceName("writer"), id: this.id, version: "0.0.0", metadata: {} }));
        },
      }),
      this.nc.subscribe(subjects.frames.frameAll, {
        callback: (_err, msg) => {
          const frame = FrameDescriptor.parse(decodeJson(msg.data));
          this.enqueue(() => this.read(frame));
        },
      }),
      this.nc.subscribe(subjects.frames.endAll, {
        callback: (_err, msg) => {
          const end = AcquisitionEnd.parse(decodeJson(msg.data));
          this.enqueue(async () => {
            this.ends.set(end.acq_id, end);
            this.endWaiters.get(end.acq_id)?.(end);
          });
        },
      }),
    );
    await this.nc.flush();
  }

  private enqueue(task: () => Promise<void>): void {
    this.queue = this.queue.then(task).catch((err) => void this.errors.push(String(err)));
  }

  private ringFor(acqId: string): Ring {
    const begin = this.begins.find((b) => b.acq_id === acqId);
    if (!begin) throw new Error(`frame of acquisition ${acqId} that never began`);
    let ring = this.rings.get(begin.ring_path);
    if (!ring) {
      ring = openRing(begin.ring_path);
      this.rings.set(begin.ring_path, ring);
    }
    return ring;
  }

  private async read(frame: FrameDescriptor): Promise<void> {
    const ring = this.ringFor(frame.acq_id);
    const data = this.options.discardPixels ? this.scratch(frame.bytes) : Buffer.alloc(frame.bytes);
    const n = ring.read(frame.slot, frame.ring_seq, data);
    if (n !== frame.bytes) throw new Error(`slot ${frame.slot} held ${n} bytes, descriptor says ${frame.bytes}`);
    this.frames.get(frame.acq_id)?.push({ descriptor: frame, data: this.options.discardPixels ? Buffer.alloc(0) : data });
    if (this.options.holdSlots) {
      this.held.push(frame);
      return;
    }
    if (this.options.releaseDelayMs) await new Promise((r) => setTimeout(r, this.options.releaseDelayMs));
    ring.release(frame.slot, frame.ring_seq);
  }

  private scratchBuffer = Buffer.alloc(0);

  private scratch(bytes: number): Buffer {
    if (this.scratchBuffer.length < bytes) this.scratchBuffer = Buffer.allocUnsafe(bytes);
    return this.scratchBuffer.subarray(0, bytes);
  }

  /** Frees every slot this reader kept (a writer that came back). */
  releaseHeld(): void {
    for (const frame of this.held.splice(0)) this.ringFor(frame.acq_id).release(frame.slot, frame.ring_seq);
  }

  waitEnd(acqId: string, timeoutMs = 30_000): Promise<AcquisitionEnd> {
    const seen = this.ends.get(acqId);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no end of acquisition ${acqId} within ${timeoutMs} ms`)), timeoutMs);
      this.endWaiters.set(acqId, (end) => {
        clearTimeout(timer);
        resolve(end);
      });
    });
  }

  async stop(): Promise<void> {
    for (const s of this.subs) s.unsubscribe();
    await this.queue;
    for (const ring of this.rings.values()) ring.close();
    this.rings.clear();
  }
}
