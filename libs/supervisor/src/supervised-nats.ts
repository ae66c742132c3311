import type { Logger } from "@gently/bus";
import { DEFAULT_RESTART_POLICY, type RestartPolicy } from "./child";
import { NatsServerProcess, type NatsServerOptions } from "./nats-server";

/**
 * The embedded nats-server, watched like any child: when it dies on its own
 * (kill -9, a crash) it is started again on the same port and JetStream store
 * with the children's backoff, and the services, which reconnect forever,
 * carry on. Before, a killed nats-server stayed dead until a person restarted
 * everything.
 */
export class SupervisedNatsServer {
  private server: NatsServerProcess;
  private stopping = false;
  private delayMs: number;
  private restartTimer?: NodeJS.Timeout;
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
    await this.server.start();
    this.watch(this.server, Date.now());
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
      if (this.stopping) return;
      this.restarts += 1;
      const server = new NatsServerProcess(this.opts);
      this.server = server;
      try {
        await server.start();
        this.logger.info({ child: "nats-server", pid: server.pid, restarts: this.restarts }, "embedded nats-server restarted");
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
    await this.server.stop();
  }
}
