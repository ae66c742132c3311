import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "@gently/bus";
import { PREVIEW_MAX_PER_S, PREVIEW_MAX_SIDE, subjects, type CameraName, type PreviewFrame } from "@gently/protocol";

export interface ReducedFrame {
  width: number;
  height: number;
  bin: number;
  pixels: Uint16Array;
  min: number;
  max: number;
}

/** Block means of bin × bin pixels, bin the smallest that brings the longest side to ≤ PREVIEW_MAX_SIDE; edge blocks average what they cover. */
export function reduceFrame(frame: Uint16Array | Uint8Array, width: number, height: number): ReducedFrame {
  const bin = Math.max(1, Math.ceil(Math.max(width, height) / PREVIEW_MAX_SIDE));
  const w = Math.ceil(width / bin);
  const h = Math.ceil(height / bin);
  // a block of 64×64 uint16 sums to < 2^32
  const sums = new Uint32Array(w);
  const out = new Uint16Array(w * h);
  let min = 65_535;
  let max = 0;
  for (let by = 0; by < h; by++) {
    sums.fill(0);
    const y0 = by * bin;
    const rows = Math.min(height, y0 + bin) - y0;
    for (let y = y0; y < y0 + rows; y++) {
      const row = y * width;
      for (let bx = 0, x = 0; bx < w; bx++) {
        const xEnd = Math.min(width, x + bin);
        let sum = 0;
        for (; x < xEnd; x++) sum += frame[row + x]!;
        sums[bx] += sum;
      }
    }
    for (let bx = 0; bx < w; bx++) {
      const cols = Math.min(width, (bx + 1) * bin) - bx * bin;
      const v = Math.round(sums[bx]! / (rows * cols));
      out[by * w + bx] = v;
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  return { width: w, height: h, bin, pixels: out, min, max };
}

/** What a preview says about the frame it was made from. */
export type PreviewContext = Omit<PreviewFrame, "width" | "height" | "bin" | "pixel_size_um" | "min" | "max" | "pixels" | "published_us"> & {
  /** of one frame pixel at the sample */
  frame_pixel_size_um: number;
};

function nowUs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

/** Previews may take at most this share of the service's time (the rest is the frames'). */
const MAX_PREVIEW_SHARE = 0.2;

/**
 * Publishes reduced frames on gently.device.preview, at most
 * PREVIEW_MAX_PER_S per camera, and fewer when making them would take more
 * than MAX_PREVIEW_SHARE of the time (a busy machine, large frames). Callers
 * ask `wants(camera)` before reducing anything, so a frame that will not be
 * shown costs nothing.
 */
export class PreviewPublisher {
  private readonly lastMs = new Map<CameraName, number>();
  /** the wait after each camera's last preview: the rate limit, or longer when the last one was costly */
  private readonly waitMs = new Map<CameraName, number>();
  private readonly minIntervalMs = 1000 / PREVIEW_MAX_PER_S;

  constructor(
    private readonly nc: NatsConnection,
    private readonly logger: Logger,
  ) {}

  /** A preview of this camera is due now. */
  wants(camera: CameraName): boolean {
    const last = this.lastMs.get(camera);
    return last === undefined || performance.now() - last >= (this.waitMs.get(camera) ?? this.minIntervalMs);
  }

  /** Reduces and publishes one frame (8- or 16-bit pixels, row-major). */
  publish(frame: Uint16Array | Uint8Array, context: PreviewContext): void {
    const started = performance.now();
    const reduced = reduceFrame(frame, context.frame_width, context.frame_height);
    const { frame_pixel_size_um, ...rest } = context;
    const body: PreviewFrame = {
      ...rest,
      width: reduced.width,
      height: reduced.height,
      bin: reduced.bin,
      pixel_size_um: frame_pixel_size_um * reduced.bin,
      min: reduced.min,
      max: reduced.max,
      pixels: Buffer.from(reduced.pixels.buffer, reduced.pixels.byteOffset, reduced.pixels.byteLength).toString("base64"),
      published_us: nowUs(),
    };
    // the rate counts from the publish, so previews never go out closer than 1/PREVIEW_MAX_PER_S
    const now = performance.now();
    this.lastMs.set(context.camera, now);
    this.waitMs.set(context.camera, Math.max(this.minIntervalMs, (now - started) / MAX_PREVIEW_SHARE));
    try {
      this.nc.publish(subjects.device.preview, JSON.stringify(body));
    } catch (err) {
      // A preview is for watching; losing one never matters to the acquisition.
      this.logger.debug({ err: String(err) }, "preview not published");
    }
  }
}

/** A typed-array view of a frame's pixels in `bytes` (the mapped ring slot or a snap buffer). */
export function pixelsOf(bytes: Buffer, width: number, height: number, bytesPerPixel: number): Uint16Array | Uint8Array {
  if (bytesPerPixel === 1) return new Uint8Array(bytes.buffer, bytes.byteOffset, width * height);
  if (bytes.byteOffset % 2 === 0) return new Uint16Array(bytes.buffer, bytes.byteOffset, width * height);
  // an odd offset cannot be viewed as uint16: copy (never the case for ring slots and snap buffers)
  const copy = new Uint8Array(width * height * 2);
  copy.set(bytes.subarray(0, copy.length));
  return new Uint16Array(copy.buffer);
}
