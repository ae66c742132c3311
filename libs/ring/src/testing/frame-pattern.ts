/** Deterministic test content of frame `seq`: byte i = (seq*31 + i*7) mod 256. */
export function fillFrame(into: Uint8Array, seq: number): void {
  for (let i = 0; i < into.length; i++) into[i] = (seq * 31 + i * 7) & 255;
}

/** Index of the first byte that differs from fillFrame(seq), or -1. */
export function firstMismatch(frame: Uint8Array, seq: number): number {
  for (let i = 0; i < frame.length; i++) if (frame[i] !== ((seq * 31 + i * 7) & 255)) return i;
  return -1;
}
