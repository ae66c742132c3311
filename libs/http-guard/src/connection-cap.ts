import type { ServerResponse } from "node:http";
import { GentlyError } from "@gently/protocol";
import { sendRefusal } from "./guard";

/**
 * A cap on long-lived connections (SSE streams): each holds server resources
 * (JetStream consumers) until it closes, so past the cap new ones are refused
 * with a clear 503 instead of growing without bound.
 */
export class ConnectionCap {
  private count = 0;

  /** @param what names the connections and the setting in refusals, e.g. "SSE streams (GENTLY_SSE_MAX)" */
  constructor(
    readonly limit: number,
    readonly what: string,
  ) {
    if (!Number.isInteger(limit) || limit < 1) throw new Error(`${what}: the limit must be a positive integer, got ${limit}`);
  }

  get open(): number {
    return this.count;
  }

  /** A release function (safe to call more than once), or null when the cap is reached. */
  tryOpen(): (() => void) | null {
    if (this.count >= this.limit) return null;
    this.count += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.count -= 1;
    };
  }

  /** Opens a connection or sends the 503 refusal naming the cap; the release runs when the response closes. */
  openFor(res: ServerResponse): (() => void) | null {
    const release = this.tryOpen();
    if (release === null) {
      sendRefusal(res, new GentlyError("unavailable", `${this.what}: ${this.count} open, the limit is ${this.limit}; close one or try later`, "connections"), {
        "Retry-After": "5",
      });
      return null;
    }
    res.once("close", release);
    return release;
  }
}
