import { spawn, type ChildProcess } from "node:child_process";
import readline from "node:readline";
import { EXIT_FATAL_CONFIG, STOP_LINE, STOP_ON_STDIN_ENV, type Logger } from "@gently/bus";
import { WindowsJob } from "./windows-job";

/**
 * Windows has no SIGTERM (Node's kill() there is TerminateProcess: no lasers
 * off, no drain). There a child runs detached from the supervisor's console,
 * so a Ctrl-C reaches the supervisor alone, and is stopped by a "stop" line on
 * its stdin; if the supervisor dies, the pipe's end stops it the same way.
 * One that does not stop in time is ended with its job object: itself and
 * every process it started.
 */
const stopByStdin = process.platform === "win32";

export interface ChildSpec {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface RestartPolicy {
  /** first restart delay; doubles on each quick crash */
  initialDelayMs: number;
  maxDelayMs: number;
  /** a child that ran this long counts as healthy again: the delay resets */
  healthyAfterMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = { initialDelayMs: 500, maxDelayMs: 30_000, healthyAfterMs: 30_000 };

/**
 * One supervised OS process: restarted with exponential backoff when it dies
 * on its own, stopped with SIGTERM (then SIGKILL) when asked. A process that
 * exits with EXIT_FATAL_CONFIG (its configuration or libraries cannot work)
 * is not restarted: `failure` keeps its last fatal log message and `onFailed`
 * hears it. Its stdout is passed through as JSON log lines; anything else it
 * prints is wrapped into one, so the supervisor emits a single pino stream.
 */
export class SupervisedChild {
  private child?: ChildProcess;
  private job?: WindowsJob;
  private exited?: Promise<void>;
  private stopping = false;
  private delayMs: number;
  private restartTimer?: NodeJS.Timeout;
  /** the message of the child's last fatal log line */
  private lastFatal?: string;
  restarts = 0;
  /** why the child failed for good (exit EXIT_FATAL_CONFIG); it is not restarted */
  failure?: string;

  constructor(
    readonly spec: ChildSpec,
    private readonly logger: Logger,
    private readonly policy: RestartPolicy = DEFAULT_RESTART_POLICY,
    private readonly out: NodeJS.WritableStream = process.stdout,
    private readonly onFailed?: (message: string) => void,
  ) {
    this.delayMs = policy.initialDelayMs;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    const startedAt = Date.now();
    const child = spawn(this.spec.command, this.spec.args, {
      cwd: this.spec.cwd,
      env: stopByStdin ? { ...(this.spec.env ?? process.env), [STOP_ON_STDIN_ENV]: "1" } : this.spec.env,
      stdio: [stopByStdin ? "pipe" : "ignore", "pipe", "pipe"],
      detached: stopByStdin,
      windowsHide: true,
    });
    this.child = child;
    this.job?.close();
    this.job = stopByStdin && child.pid !== undefined ? this.adoptIntoJob(child.pid) : undefined;
    this.logger.info({ child: this.spec.name, pid: child.pid, restarts: this.restarts }, "child started");
    readline.createInterface({ input: child.stdout! }).on("line", (line) => this.forward(line, 30));
    readline.createInterface({ input: child.stderr! }).on("line", (line) => this.forward(line, 50));
    // if the supervisor itself dies, its children still get their clean stop (lasers off, drain)
    const orphaned = () => (stopByStdin ? child.stdin?.end(`${STOP_LINE}\n`) : child.kill("SIGTERM"));
    process.once("exit", orphaned);
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        process.off("exit", orphaned);
        resolve();
        if (this.stopping) return;
        if (code === EXIT_FATAL_CONFIG) {
          this.failure = this.lastFatal ?? `exited with code ${code} (configuration that cannot work)`;
          this.logger.fatal({ child: this.spec.name, pid: child.pid, code, reason: this.failure }, "child failed on its configuration; not restarting");
          this.onFailed?.(this.failure);
          return;
        }
        if (Date.now() - startedAt >= this.policy.healthyAfterMs) this.delayMs = this.policy.initialDelayMs;
        this.logger.error(
          { child: this.spec.name, pid: child.pid, code, signal, restartInMs: this.delayMs },
          "child exited; restarting",
        );
        this.restartTimer = setTimeout(() => {
          this.restarts += 1;
          this.start();
        }, this.delayMs);
        this.delayMs = Math.min(this.delayMs * 2, this.policy.maxDelayMs);
      });
    });
    child.once("error", (err) => this.logger.error({ child: this.spec.name, err: err.message }, "child failed to spawn"));
  }

  private forward(line: string, level: number): void {
    if (line.startsWith("{") && line.endsWith("}")) {
      if (line.includes('"level":60')) this.lastFatal = fatalMessageOf(line) ?? this.lastFatal;
      this.out.write(line + "\n");
      return;
    }
    this.out.write(
      JSON.stringify({ level, time: new Date().toISOString(), service: this.spec.name, msg: line }) + "\n",
    );
  }

  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    if (stopByStdin) child.stdin?.end(`${STOP_LINE}\n`);
    else child.kill("SIGTERM");
    const job = this.job;
    const timer = setTimeout(() => {
      this.logger.warn({ child: this.spec.name }, "child did not stop in time; killing");
      if (job) job.terminate();
      else child.kill("SIGKILL");
    }, graceMs);
    await this.exited;
    clearTimeout(timer);
    job?.close();
  }

  /** Windows: the child's job, so a kill ends what it started too; without one only the child can be killed. */
  private adoptIntoJob(pid: number): WindowsJob | undefined {
    try {
      return WindowsJob.adopt(pid);
    } catch (err) {
      this.logger.warn({ child: this.spec.name, err: String(err) }, "no job object for the child; a kill will end the child alone");
      return undefined;
    }
  }
}

/** The message of a pino fatal line: its msg, with the error's message when there is one. */
function fatalMessageOf(line: string): string | undefined {
  try {
    const entry = JSON.parse(line) as { msg?: string; err?: { message?: string } | string };
    const err = typeof entry.err === "string" ? entry.err : entry.err?.message;
    return [entry.msg, err].filter(Boolean).join(": ") || undefined;
  } catch {
    return undefined;
  }
}
