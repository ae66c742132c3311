import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import net from "node:net";
import readline from "node:readline";

export interface NatsServerOptions {
  port: number;
  /** JetStream store directory */
  storeDir: string;
  /** nats.conf to load (the same file ops use); command-line flags override its port and store */
  configFile?: string;
  /** extra command-line arguments (cluster routes, server name, ...) */
  args?: string[];
  binary?: string;
  /** extra environment (the password variables nats.conf refers to) */
  env?: Record<string, string>;
  /** called with each line nats-server logs */
  onLog?: (line: string) => void;
  /**
   * Run in a process group of its own, so a terminal's Ctrl-C (SIGINT to the whole foreground
   * group) does not reach it: its owner stops it after the processes that still need NATS to
   * stop cleanly (leases, drains). Off for test servers, which then die with a Ctrl-C'd test run.
   */
  ownProcessGroup?: boolean;
}

const INSTALL_HINT =
  process.platform === "win32"
    ? "Put nats-server.exe (github.com/nats-io/nats-server/releases) in a folder on PATH, or name it in GENTLY_NATS_SERVER,"
    : "Install it (Debian: apt-get install nats-server)";

/**
 * A local nats-server process with JetStream. Used by the one-machine start
 * and by the test harness, so both run exactly the server ops run.
 */
export class NatsServerProcess {
  private child?: ChildProcess;
  private exited?: Promise<void>;
  private exitStatus: { code: number | null; signal: NodeJS.Signals | null } = { code: null, signal: null };

  constructor(readonly opts: NatsServerOptions) {}

  /** Resolves when the started server exits, however it ends (a crash, kill -9, stop). */
  async whenExited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    await this.exited;
    return this.exitStatus;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.opts.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(readyTimeoutMs = 15_000): Promise<void> {
    mkdirSync(this.opts.storeDir, { recursive: true });
    const args = [
      ...(this.opts.configFile ? ["-c", this.opts.configFile] : []),
      "-a", "127.0.0.1",
      "-p", String(this.opts.port),
      "-js",
      "-sd", this.opts.storeDir,
      ...(this.opts.args ?? []),
    ];
    const binary = this.opts.binary ?? process.env.GENTLY_NATS_SERVER ?? "nats-server";
    const child = spawn(binary, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...this.opts.env },
      detached: this.opts.ownProcessGroup ?? false,
    });
    this.child = child;
    this.exited = new Promise((resolve) =>
      child.once("exit", (code, signal) => {
        this.exitStatus = { code, signal };
        resolve();
      }),
    );
    // never outlive our own process, however it ends short of SIGKILL
    const reap = () => child.kill("SIGKILL");
    process.once("exit", reap);
    void this.exited.then(() => process.off("exit", reap));
    const spawnError = new Promise<never>((_, reject) =>
      child.once("error", (err) =>
        reject(new Error(`cannot run ${binary}: ${err.message}. ${INSTALL_HINT} or set GENTLY_NATS_URL to a running NATS`)),
      ),
    );
    const recent: string[] = [];
    for (const stream of [child.stdout!, child.stderr!]) {
      readline.createInterface({ input: stream }).on("line", (line) => {
        recent.push(line);
        if (recent.length > 5) recent.shift();
        this.opts.onLog?.(line);
      });
    }
    const exitedEarly = this.exited.then(() => {
      throw new Error(`nats-server exited during start on port ${this.opts.port}: ${recent.join(" | ")}`);
    });
    await Promise.race([waitForPort(this.opts.port, readyTimeoutMs), spawnError, exitedEarly]);
  }

  /**
   * Stops gracefully (SIGTERM lets JetStream flush), SIGKILL after a grace period. On Windows
   * kill() is TerminateProcess whatever the signal: JetStream recovers its store on the next
   * start, as after a power cut; the services, stopped before, have drained their messages.
   */
  async stop(graceMs = 5_000): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** Simulates a crash: no flush, no goodbye. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGKILL");
    await this.exited;
  }
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port. */
export async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ port, host: "127.0.0.1" });
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on port ${port} after ${timeoutMs} ms`);
}

/** A TCP port that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
