import readline from "node:readline";
import { FatalConfigError } from "@gently/config";
import type { NatsConnection } from "@nats-io/transport-node";
import { loadConfig, natsUrlOf, type GentlyConfig } from "./config";
import { connectBus } from "./connection";
import { processLiveness } from "./liveness";
import { createLogger, type Logger } from "./logger";

export interface ProcessContext {
  config: GentlyConfig;
  logger: Logger;
  nc: NatsConnection;
}

/** What a service hands back once started: how to stop it, and a promise of how it ended. */
export interface RunningService {
  stop(): Promise<void>;
  /**
   * Resolves (with the reason) when the service can no longer do its work on its own, beyond
   * what the bus helpers already watch (see Liveness); the process then exits non-zero.
   */
  stopped?: Promise<string>;
}

/**
 * Exit code of a process whose configuration or libraries cannot work (a
 * missing device, an adapter that does not load): restarting cannot help, so
 * the supervisor does not restart it (sysexits' EX_CONFIG).
 */
export const EXIT_FATAL_CONFIG = 78;

/** Thrown by a service's start when its configuration cannot work; the process exits with EXIT_FATAL_CONFIG. */
export { FatalConfigError };

export interface ProcessOptions {
  /**
   * Runs on every fatal way out (uncaught exception, unhandled rejection, a required part ended,
   * the NATS connection closed) before the process exits: the hardware makes the microscope safe
   * here. Given FATAL_GRACE_MS; the process exits 1 after it whatever happens.
   */
  onFatal?: (reason: string) => Promise<void> | void;
}

/** How long onFatal may take before the process exits anyway. */
export const FATAL_GRACE_MS = 5_000;

/**
 * The whole life of a service process: config, logger, NATS connection,
 * start, then a clean stop (service first, then drain NATS) on SIGTERM or
 * SIGINT. Unexpected failures end the process with a non-zero code so the
 * supervisor restarts it.
 */
export async function runProcess(
  name: string,
  start: (ctx: ProcessContext) => Promise<RunningService>,
  opts: ProcessOptions = {},
): Promise<void> {
  const logger = createLogger(name);
  let exiting = false;
  const fatalExit = async (reason: string, stop?: () => Promise<void>): Promise<void> => {
    if (exiting) return;
    exiting = true;
    processLiveness.stop();
    const force = setTimeout(() => process.exit(1), FATAL_GRACE_MS * 2);
    force.unref();
    const bounded = (what: string, work: () => Promise<void> | void) =>
      Promise.race([
        Promise.resolve().then(work).catch((err) => logger.error({ err }, `${what} failed`)),
        new Promise((r) => setTimeout(r, FATAL_GRACE_MS).unref()),
      ]);
    await bounded("emergency stop", () => opts.onFatal?.(reason));
    if (stop) await bounded("stop", stop);
    process.exit(1);
  };
  process.on("uncaughtException", (err) => {
    logger.fatal({ err }, "uncaught exception");
    void fatalExit(`uncaught exception: ${err.message}`);
  });
  process.on("unhandledRejection", (err) => {
    logger.fatal({ err }, "unhandled rejection");
    void fatalExit(`unhandled rejection: ${String((err as Error)?.message ?? err)}`);
  });
  let config: GentlyConfig;
  try {
    config = loadConfig();
  } catch (err) {
    logger.fatal({ err: String(err) }, "bad configuration");
    process.exit(EXIT_FATAL_CONFIG);
  }
  const nc = await connectBus({
    servers: natsUrlOf(config).split(","),
    name: `gently-${name}`,
    logger,
    user: config.natsUser,
    pass: config.natsPassword,
  });
  let service: RunningService;
  try {
    service = await start({ config, logger, nc });
  } catch (err) {
    const fatal = err instanceof FatalConfigError;
    // The message alone: it is what `gently status` shows for a service that failed for good.
    if (fatal) logger.fatal({ fatal_config: true }, err.message);
    else logger.fatal({ err }, "failed to start");
    await nc.close().catch(() => undefined);
    process.exit(fatal ? EXIT_FATAL_CONFIG : 1);
  }
  logger.info("started");

  const signals = onStopSignal(logger, async (signal) => {
    processLiveness.stop();
    logger.info({ signal }, "stopping");
    const force = setTimeout(() => {
      logger.error("clean stop took too long; exiting");
      process.exit(1);
    }, 15_000);
    force.unref();
    try {
      await service.stop();
      await nc.drain();
      logger.info("stopped");
      process.exit(0);
    } catch (err) {
      logger.error({ err }, "error while stopping");
      process.exit(1);
    }
  });
  // A required part that ended on its own: stop what still runs, exit non-zero, be restarted.
  void Promise.race([processLiveness.stopped, service.stopped ?? new Promise<never>(() => undefined)]).then((reason) => {
    if (signals.stopping) return;
    logger.fatal({ reason }, "a required part of the service stopped; exiting to be restarted");
    void fatalExit(reason, () => service.stop());
  });
  void nc.closed().then((err) => {
    if (!signals.stopping) {
      logger.fatal({ err }, "NATS connection closed");
      void fatalExit("NATS connection closed");
    }
  });
}

/**
 * Set by the supervisor on Windows, which has no SIGTERM: the child stops on a
 * line "stop" on its stdin, and when stdin ends (the supervisor is gone).
 */
export const STOP_ON_STDIN_ENV = "GENTLY_STOP_STDIN";
export const STOP_LINE = "stop";

/**
 * Runs `stop` on the first SIGTERM or SIGINT (or, with GENTLY_STOP_STDIN=1, a
 * "stop" line on stdin or its end); later ones are logged and ignored. Not `once`:
 * Ctrl-C reaches every process of the foreground group, the supervisor adds its SIGTERM and tsx
 * forwards signals, and a second signal must not kill a process mid-stop (the hardware before
 * its lasers are off, the supervisor before its children and NATS stopped).
 */
export function onStopSignal(logger: Logger, stop: (signal: NodeJS.Signals) => Promise<void>): { readonly stopping: boolean } {
  let stopping = false;
  const handle = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.info({ signal }, "already stopping");
      return;
    }
    stopping = true;
    void stop(signal);
  };
  process.on("SIGTERM", handle);
  process.on("SIGINT", handle);
  if (process.env[STOP_ON_STDIN_ENV] === "1") {
    readline.createInterface({ input: process.stdin }).on("line", (line) => {
      if (line.trim() === STOP_LINE) handle("SIGTERM");
    });
    process.stdin.once("end", () => handle("SIGTERM"));
  }
  return {
    get stopping() {
      return stopping;
    },
  };
}
