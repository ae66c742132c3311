import type { ServiceLiveness } from "@gently/protocol";

/**
 * Whether this process still does its work. The bus helpers register every
 * part a service cannot work without (its micro-service endpoints, durable
 * consumers, required subscriptions); when one of them ends on its own,
 * `stopped` resolves with the reason and runProcess exits non-zero so the
 * supervisor restarts the process. Before, a service whose consumer loop died
 * stayed "up" and silently did nothing.
 *
 * Parts may also report themselves degraded (alive but not working, e.g. a
 * consumer that has missed its heartbeats); `gently status` shows it.
 */
export class Liveness {
  readonly stopped: Promise<string>;
  private end!: (reason: string) => void;
  private ended = false;
  private stopping = false;
  private readonly degradedParts = new Map<string, string>();

  constructor() {
    this.stopped = new Promise((resolve) => (this.end = resolve));
  }

  /** `part` must run as long as the process: its end (resolved or rejected) stops the process. */
  require(part: string, ends: Promise<unknown>): void {
    void ends.then(
      (value) => this.partEnded(part, value instanceof Error ? value.message : undefined),
      (err) => this.partEnded(part, String((err as Error)?.message ?? err)),
    );
  }

  /** The process is stopping on purpose: parts ending from now on are expected. */
  stop(): void {
    this.stopping = true;
  }

  degrade(part: string, reason: string): void {
    this.degradedParts.set(part, `${part}: ${reason}`);
  }

  recover(part: string): void {
    this.degradedParts.delete(part);
  }

  report(): ServiceLiveness {
    const reasons = [...this.degradedParts.values()];
    return { state: reasons.length > 0 ? "degraded" : "up", reasons };
  }

  private partEnded(part: string, why: string | undefined): void {
    if (this.stopping || this.ended) return;
    this.ended = true;
    this.end(`${part} ended${why ? `: ${why}` : ""}`);
  }
}

/**
 * The liveness of this process. One per process because the parts register
 * from wherever they are opened (startMicroService, consumeDurable,
 * subscribeValidated) while runProcess alone decides to exit; in a test that
 * runs services in-process nobody acts on it.
 */
export const processLiveness = new Liveness();
