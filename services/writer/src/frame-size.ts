import type { Dtype } from "@gently/protocol";

/** Bytes of one frame (one plane of the volume): width × height samples of the dtype. */
export function frameBytes(frame: { width: number; height: number; dtype: Dtype }): number {
  return frame.width * frame.height * (frame.dtype === "uint16" ? 2 : 1);
}
