import type { NatsConnection } from "@nats-io/transport-node";
import { call, publishValidated } from "@gently/bus";
import {
  AcquisitionEnd,
  FrameDescriptor,
  frameSink,
  newUid,
  subjects,
  type AcquisitionBegin,
  type AcquisitionBeginReply,
  type CameraName,
} from "@gently/protocol";
import type { Ring } from "@gently/ring";
import { frameBytes } from "../src/frame-size";

/**
 * The hardware's side of an acquisition, for the writer's tests and
 * benchmark: begin request, frames committed into real ring slots and
 * announced by descriptor, end. The ring blocks it when the writer falls
 * behind, exactly as it blocks the hardware service.
 */
export class FrameProducer {
  /** numbers frames in the ring across acquisitions, as the hardware service does */
  private nextRingSeq = 0;

  /** A ring_seq for a frame committed outside `frame()` (a test playing a lost descriptor). */
  takeRingSeq(): number {
    return this.nextRingSeq++;
  }

  constructor(
    private readonly nc: NatsConnection,
    readonly ring: Ring,
  ) {}

  /** An AcquisitionBegin for this ring, 256×128 uint16 single camera unless overridden. */
  acquisition(overrides: Partial<AcquisitionBegin> = {}): AcquisitionBegin {
    return {
      acq_id: newUid(),
      volume_uid: newUid(),
      session_id: "writer-test",
      run_uid: newUid(),
      plan_name: "z_stack",
      ring_path: this.ring.path,
      cameras: ["HamCam1"],
      num_slices: 4,
      width: 256,
      height: 128,
      dtype: "uint16",
      pixel_size_um: 0.1625,
      z_step_um: 1.5,
      exposure_ms: 10,
      laser_config: "488 only",
      position: { x_um: 1200.5, y_um: -340.25, z_um: 50, piezo_um: -20 },
      started: new Date().toISOString(),
      ...overrides,
    };
  }

  /**
   * Gives every free slot distinct pixels (framePixels), so frames committed later without
   * pixels carry real-looking data, as slots a camera has written by DMA do.
   */
  fillSlots(bytes: number): void {
    const taken: number[] = [];
    for (let slot = this.ring.tryAcquire(); slot !== null; slot = this.ring.tryAcquire()) {
      this.ring.write(slot, framePixels(bytes, taken.length));
      taken.push(slot);
    }
    for (const slot of taken) {
      const ringSeq = this.takeRingSeq();
      this.ring.commit(slot, ringSeq, bytes);
      this.ring.release(slot, ringSeq);
    }
  }

  /** Asks the writer for a sink; rejects with the writer's GentlyError when it refuses. */
  begin(begin: AcquisitionBegin): Promise<AcquisitionBeginReply> {
    return call(this.nc, { ...frameSink.begin, subject: subjects.frames.begin(begin.acq_id) }, begin);
  }

  /**
   * Puts frame `seq` (plane z of camera c, cameras interleaved) into a free
   * slot and announces it; waits for a slot while the ring is full. Without
   * `pixels` the slot's current contents are committed as the frame, as when
   * a camera has written the slot itself (no copy in this process).
   */
  async frame(begin: AcquisitionBegin, seq: number, pixels?: Uint8Array, descriptor: Partial<FrameDescriptor> = {}): Promise<number> {
    const slot = await this.ring.acquire(30_000);
    if (slot === null) throw new Error(`no ring slot freed within 30 s at frame ${seq}: the writer stopped releasing`);
    const bytes = frameBytes(begin);
    if (pixels) this.ring.write(slot, pixels);
    const ringSeq = this.takeRingSeq();
    this.ring.commit(slot, ringSeq, pixels?.byteLength ?? bytes);
    const c = seq % begin.cameras.length;
    const now_us = Math.round(performance.timeOrigin * 1000 + performance.now() * 1000);
    publishValidated(this.nc, subjects.frames.frame(begin.acq_id), FrameDescriptor, {
      acq_id: begin.acq_id,
      seq,
      slot,
      ring_seq: ringSeq,
      z_index: Math.floor(seq / begin.cameras.length),
      camera: begin.cameras[c] as CameraName,
      camera_index: c,
      width: begin.width,
      height: begin.height,
      dtype: begin.dtype,
      bytes: pixels?.byteLength ?? bytes,
      piezo_um: begin.position.piezo_um ?? 0,
      galvo_deg: 0,
      timestamp_us: now_us,
      published_us: now_us,
      ...descriptor,
    });
    return slot;
  }

  end(begin: AcquisitionBegin, end: Partial<AcquisitionEnd> = {}): void {
    publishValidated(this.nc, subjects.frames.end(begin.acq_id), AcquisitionEnd, {
      acq_id: begin.acq_id,
      volume_uid: begin.volume_uid,
      status: "complete",
      frames: begin.num_slices * begin.cameras.length,
      dropped: 0,
      ...end,
    });
  }
}

/** Deterministic pixels, different for every frame, so a plane in the wrong place is caught. */
export function framePixels(bytes: number, seq: number): Buffer {
  const buf = Buffer.allocUnsafe(bytes);
  let s = (seq * 2654435761 + 12345) >>> 0;
  for (let i = 0; i + 4 <= bytes; i += 4) {
    s = (s * 1664525 + 1013904223) >>> 0;
    buf.writeUInt32LE(s, i);
  }
  for (let i = bytes & ~3; i < bytes; i++) buf[i] = seq & 0xff;
  return buf;
}
