import { spawn, type ChildProcess } from "node:child_process";
import readline from "node:readline";
import { nodeArgsFor, REPO_ROOT, serviceEntry } from "@gently/supervisor";

export interface ServiceProcess {
  child: ChildProcess;
  /** every log line the process printed so far */
  lines: string[];
  /** resolves with the first log line matching the predicate */
  waitForLog(match: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  /** SIGTERM (then `alsoSend`, as a terminal's Ctrl-C and a supervisor may both signal) and wait for the exit code */
  stop(alsoSend?: NodeJS.Signals[]): Promise<number | null>;
  /** SIGKILL (a crash) */
  kill(): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** A process's log lines as they arrive, and waits for the first line matching a predicate (one already seen included). */
export function logLines() {
  const lines: string[] = [];
  const waiters: { match: (l: string) => boolean; resolve: (l: string) => void }[] = [];
  return {
    lines,
    add(line: string): void {
      lines.push(line);
      if (process.env.GENTLY_TEST_ECHO === "1") process.stderr.write(line + "\n");
      for (const w of [...waiters]) {
        if (w.match(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    },
    waitFor(match: (line: string) => boolean, timeoutMs: number): Promise<string> {
      const seen = lines.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`log line not seen in ${timeoutMs} ms; last lines:\n${lines.slice(-15).join("\n")}`)),
          timeoutMs,
        );
        waiters.push({
          match,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
      });
    },
  };
}

/**
 * Runs a TypeScript entry point as a real OS process, the way the supervisor does. With
 * `processGroup` it leads a process group of its own, so a test can signal the whole group
 * (`process.kill(-pid, ...)`) as a terminal's Ctrl-C does.
 */
export function spawnTs(entry: string, env: NodeJS.ProcessEnv, args: string[] = [], opts: { processGroup?: boolean } = {}): ServiceProcess {
  const child = spawn(process.execPath, [...nodeArgsFor(entry), ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, GENTLY_LOG_LEVEL: "debug", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: opts.processGroup ?? false,
  });
  const log = logLines();
  readline.createInterface({ input: child.stdout! }).on("line", log.add);
  readline.createInterface({ input: child.stderr! }).on("line", log.add);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  // a test file that ends (or times out) must not leave its processes running
  const reap = () => child.kill("SIGKILL");
  process.once("exit", reap);
  void exited.then(() => process.off("exit", reap));
  return {
    child,
    lines: log.lines,
    exited,
    waitForLog: (match, timeoutMs = 30_000) => log.waitFor(match, timeoutMs),
    async stop(alsoSend = []) {
      if (child.exitCode === null && child.signalCode === null) for (const signal of ["SIGTERM" as const, ...alsoSend]) child.kill(signal);
      return (await exited).code;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}

export function spawnService(name: string, env: NodeJS.ProcessEnv): ServiceProcess {
  return spawnTs(serviceEntry(name), env);
}

/** Polls until the check returns a truthy value. */
export async function waitFor<T>(check: () => T | Promise<T>, timeoutMs = 20_000, what = "condition"): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ""}`);
}

/** Whether a process id is still alive. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
