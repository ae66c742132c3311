/**
 * A ring reader in its own process, for the cross-process tests. Usage:
 *   node --import tsx ring-reader.ts <ring path> <slow every N frames> <sleep ms>
 * stdin: one "slot seq" line per committed frame, then "end". It reads,
 * verifies and releases each frame (sleeping every N frames to play a slow
 * consumer) and prints one JSON summary line.
 */
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { openRing } from "../ring";
import { firstMismatch } from "./frame-pattern";

const [path, slowEvery, sleepMs] = process.argv.slice(2);
const ring = openRing(path);
const frame = new Uint8Array(ring.slotBytes);
const summary = { frames: 0, lastSeq: -1, outOfOrder: 0, corrupt: 0, errors: [] as string[] };

for await (const line of createInterface({ input: process.stdin })) {
  if (line === "end") break;
  const [slot, seq] = line.split(" ").map(Number);
  try {
    if (seq !== summary.lastSeq + 1) summary.outOfOrder++;
    summary.lastSeq = seq;
    if (summary.frames % Number(slowEvery) === 0) await sleep(Number(sleepMs));
    const n = ring.read(slot, seq, frame);
    if (firstMismatch(frame.subarray(0, n), seq) >= 0) summary.corrupt++;
    ring.release(slot, seq);
    summary.frames++;
  } catch (e) {
    summary.errors.push(String(e));
  }
}
ring.close();
process.stdout.write(`${JSON.stringify(summary)}\n`);
