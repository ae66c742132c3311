import { createHash } from "node:crypto";
import type { Uid } from "@gently/protocol";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const LENGTH = 21;

/**
 * The uid of a session's own row, derived from its session_id so that a
 * rebuild (or another indexer) gives the same session the same uid.
 */
export function sessionUid(sessionId: string): Uid {
  let n = BigInt("0x" + createHash("sha256").update(`gently-session\0${sessionId}`).digest("hex").slice(0, 32));
  let out = "";
  for (let i = 0; i < LENGTH; i++) {
    out = ALPHABET[Number(n % 62n)] + out;
    n /= 62n;
  }
  return out as Uid;
}
