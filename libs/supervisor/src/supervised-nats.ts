import type { Logger } from "@gently/bus";
import { DEFAULT_RESTART_POLICY, type RestartPolicy } from "./child";
import { freePort, NatsServerProcess, type NatsServerOptions } from "./nats-server";

/**
 * JetStream is asked how it is (the server's own monitoring endpoint /jsz, no account needed) this
 * often; unanswered for JETSTREAM_UNANSWERED_MS while the process lives, the server is restarted.
 */
const JETSTREAM_CHECK_MS = 10_000;
const JETSTREAM_UNANSWERED_MS = 30_000;

/**
 * The embedded nats-server, watched like any child: when it dies on its own
 * (kill -9, a crash) it is started again on the same port and JetStream store
 * with the children's backoff, and the services, which reconnect forever,
 * carry on. Before, a killed nats-server stayed dead until a person restarted
 * everything.
 *
 * A live server whose JetStream has stopped answering is restarted too: once
 * its store's disk was full, nats-server 2.9's JetStream (and its monitoring
 * of it) hangs for good, even after space is freed. A restart on the same
 * store is what brings it back.
 */
export class SupervisedNatsServer {
  private server: NatsServerProcess;
  private stopping = false;
  private delayMs: number;
  private restartTimer?: NodeJS.Timeout;
  private jetStreamTimer?: NodeJS.Timeout;
  private jetStreamAnsweredAt = Date.now();
  private monitorPort = 0;
  restarts = 0;

  constructor(
    private readonly opts: NatsServerOptions,
    private readonly logger: Logger,
    private readonly policy: RestartPolicy = DEFAULT_RESTART_POLICY,
  ) {
    this.server = new NatsServerProcess(opts);
    this.delayMs = policy.initialDelayMs;
  }

  get url(): string {
    return this.server.url;
  }

  get pid(): number | undefined {
    return this.server.pid;
  }

  async start(): Promise<void> {
    this.monitorPort = await freePort();
    this.server = new NatsServerProcess(this.withMonitor());
    await this.server.start();
    this.watch(this.server, Date.now());
    this.jetStreamAnsweredAt = Date.now();
    this.jetStreamTimer = setInterval(() => void this.checkJetStream(), JETSTREAM_CHECK_MS);
  }

  /** The server's options plus its monitoring port on the loopback (the same port across restarts). */
  private withMonitor(): NatsServerOptions {
    return { ...this.opts, args: [...(this.opts.args ?? []), "-m", String(this.monitorPort)] };
  }

  private async checkJetStream(): Promise<void> {
    const server = this.server;
    if (this.stopping || server.pid === undefined || this.restartTimer) return;
    try {
      const res = await fetch(`http://127.0.0.1:${this.monitorPort}/jsz`, { signal: AbortSignal.timeout(5_000) });
      const body = (await res.json()) as { disabled?: boolean };
      if (res.ok && !body.disabled) this.jetStreamAnsweredAt = Date.now();
    } catch {
      // no answer: counted below
    }
    const silentMs = Date.now() - this.jetStreamAnsweredAt;
    if (silentMs < JETSTREAM_UNANSWERED_MS || this.stopping || server !== this.server) return;
    this.logger.error(
      { child: "nats-server", pid: server.pid, silentMs, storeDir: this.opts.storeDir },
      "JetStream has stopped answering (a full disk hangs it until nats-server restarts); restarting nats-server on the same store",
    );
    this.jetStreamAnsweredAt = Date.now();
    // the exit watch restarts it, with the backoff: if the disk is still full, it will hang again and be restarted later
    await server.stop();
  }

  private watch(server: NatsServerProcess, startedAt: number): void {
    void server.whenExited().then(({ code, signal }) => {
      if (this.stopping || server !== this.server) return;
      if (Date.now() - startedAt >= this.policy.healthyAfterMs) this.delayMs = this.policy.initialDelayMs;
      this.logger.error(
        { child: "nats-server", pid: server.pid, code, signal, restartInMs: this.delayMs, storeDir: this.opts.storeDir },
        "nats-server exited; restarting it on the same store",
      );
      this.scheduleRestart();
    });
  }

  private scheduleRestart(): void {
    this.restartTimer = setTimeout(async () => {
      this.restartTimer = undefined;
      if (this.stopping) return;
      this.restarts += 1;
      const server = new NatsServerProcess(this.withMonitor());
      this.server = server;
      try {
        await server.start();
        this.logger.info({ child: "nats-server", pid: server.pid, restarts: this.restarts }, "embedded nats-server restarted");
        this.jetStreamAnsweredAt = Date.now();
        this.watch(server, Date.now());
      } catch (err) {
        // e.g. the port not yet released, or the store's disk full: try again later
        this.logger.error({ child: "nats-server", err: String(err), restartInMs: this.delayMs }, "nats-server did not restart; trying again");
        await server.kill();
        this.scheduleRestart();
      }
    }, this.delayMs);
    this.delayMs = Math.min(this.delayMs * 2, this.policy.maxDelayMs);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    clearInterval(this.jetStreamTimer);
    await this.server.stop();
  }
}
