import cliProgress from "cli-progress";

/** What a long task reports: a phase, how far it is, and optionally a short message. */
export interface ProgressUpdate {
  phase: string;
  done: number;
  total: number;
  message?: string;
}

export interface ProgressBar {
  update(p: ProgressUpdate): void;
  stop(): void;
}

/** A progress bar on a terminal's stderr; nothing for scripts (--json) or when output is piped. */
export function progressBar(enabled: boolean): ProgressBar {
  if (!enabled || !process.stderr.isTTY) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: "{phase} [{bar}] {value}/{total} {message}", hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(p) {
      if (!started) {
        bar.start(Math.max(1, p.total), 0, { phase: p.phase, message: "" });
        started = true;
      }
      bar.setTotal(Math.max(1, p.total));
      bar.update(p.done, { phase: p.phase, message: p.message ?? "" });
    },
    stop() {
      if (started) bar.stop();
      started = false;
    },
  };
}
