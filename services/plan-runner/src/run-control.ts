import { GentlyError } from "@gently/protocol";

export type ControlState = "running" | "pausing" | "paused" | "stopping" | "aborting";
export type Verdict = "continue" | "stop" | "abort";

/**
 * The owner's hand on a running plan. Requests only set state; the runner
 * acts on them at its checkpoints (between steps), except abort, which also
 * fires `signal` so a volume in progress is stopped at once.
 */
export class RunControl {
  private _state: ControlState = "running";
  private readonly abortController = new AbortController();
  private wake: (() => void) | null = null;
  private pausedSince: number | null = null;
  abortReason = "";
  /** total time spent paused, so a timelapse's schedule shifts by it */
  pausedMs = 0;

  get state(): ControlState {
    return this._state;
  }

  get signal(): AbortSignal {
    return this.abortController.signal;
  }

  get aborted(): boolean {
    return this.abortController.signal.aborted;
  }

  pause(): "pausing" | "paused" {
    this.assertLive("pause");
    if (this._state === "running") this._state = "pausing";
    return this._state === "paused" ? "paused" : "pausing";
  }

  resume(): void {
    this.assertLive("resume");
    if (this._state !== "pausing" && this._state !== "paused") throw new GentlyError("conflict", "the run is not paused");
    this.leavePause();
    this._state = "running";
    this.poke();
  }

  /** Finish the current step, then end successfully. */
  stop(): void {
    this.assertLive("stop");
    this.leavePause();
    this._state = "stopping";
    this.poke();
  }

  abort(reason: string): void {
    if (this._state === "aborting") return;
    this.leavePause();
    this._state = "aborting";
    this.abortReason = reason;
    this.abortController.abort(new GentlyError("aborted", reason));
    this.poke();
  }

  /** Between steps: holds while paused; says whether to go on. */
  async checkpoint(): Promise<Verdict> {
    for (;;) {
      if (this._state === "aborting") return "abort";
      if (this._state === "stopping") return "stop";
      if (this._state === "running") return "continue";
      if (this._state === "pausing") {
        this._state = "paused";
        this.pausedSince = Date.now();
        this.onPaused?.();
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  /**
   * Waits until `deadline()` (ms since the epoch, re-read after every wake so
   * time paused shifts it), holding through a pause; abort and stop end the
   * wait at once.
   */
  async waitUntil(deadline: () => number): Promise<Verdict> {
    for (;;) {
      const verdict = await this.checkpoint();
      if (verdict !== "continue") return verdict;
      const left = deadline() - Date.now();
      if (left <= 0) return "continue";
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** called once each time the run actually holds in a pause */
  onPaused: (() => void) | undefined;

  private leavePause(): void {
    if (this.pausedSince !== null) {
      this.pausedMs += Date.now() - this.pausedSince;
      this.pausedSince = null;
    }
  }

  private poke(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  private assertLive(what: string): void {
    if (this._state === "aborting") throw new GentlyError("conflict", `cannot ${what}: the run is being aborted`);
    if (this._state === "stopping" && what !== "stop") throw new GentlyError("conflict", `cannot ${what}: the run is stopping`);
  }
}
