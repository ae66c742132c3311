import { open } from "node:fs/promises";
import { xxh3 } from "@node-rs/xxhash";
import { toSinkError } from "./errors";
import type { Checksum } from "./sink";

const READ_CHUNK_BYTES = 8 << 20;

/** xxh3-64 (seed 0) of the whole file: the same definition finalize() reports (`xxhsum -H3`). */
export async function computeChecksum(path: string): Promise<Checksum> {
  let fh;
  try {
    fh = await open(path, "r");
  } catch (err) {
    throw toSinkError(err, `opening ${path}`);
  }
  try {
    const hash = xxh3.Xxh3.withSeed(0n);
    const buf = Buffer.allocUnsafe(READ_CHUNK_BYTES);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
    }
    return { algorithm: "xxh3-64", hex: hash.digest().toString(16).padStart(16, "0") };
  } catch (err) {
    throw toSinkError(err, `reading ${path}`);
  } finally {
    await fh.close();
  }
}

export interface ChecksumVerdict {
  ok: boolean;
  expected: Checksum;
  actual: Checksum;
}

/** Recomputes the file's checksum and compares it with the one finalize() returned. */
export async function verifyChecksum(path: string, expected: Checksum): Promise<ChecksumVerdict> {
  if (expected.algorithm !== "xxh3-64") throw new Error(`unsupported checksum algorithm ${String(expected.algorithm)}`);
  const actual = await computeChecksum(path);
  return { ok: actual.hex === expected.hex.toLowerCase(), expected, actual };
}
