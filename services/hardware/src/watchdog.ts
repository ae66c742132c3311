/**
 * Fires once when nobody has called touch() for longer than silenceMs: the
 * owner of an acquisition proves it is alive, or the lasers go off.
 */
export class Watchdog {
  private last = Date.now();
  private timer: NodeJS.Timeout | null;

  constructor(
    readonly silenceMs: number,
    onSilence: (silentMs: number) => void,
  ) {
    const checkEveryMs = Math.max(20, Math.min(250, Math.floor(silenceMs / 4)));
    this.timer = setInterval(() => {
      const silent = Date.now() - this.last;
      if (silent > silenceMs) {
        this.stop();
        onSilence(silent);
      }
    }, checkEveryMs);
  }

  touch(): void {
    this.last = Date.now();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
