import { createLogger, EXIT_FATAL_CONFIG, loadConfig, onStopSignal, type Logger } from "@gently/bus";
import { connect } from "@gently/client";
import type { NatsConnection } from "@nats-io/transport-node";
import { startApiServer } from "./api-server";
import { loadApiConfig } from "./config";

/**
 * The HTTP API for the existing copilot (port 60610). Not a NATS
 * micro-service: a client under the copilot's account, like the copilot itself.
 */
async function main(): Promise<void> {
  const logger = createLogger("api");
  process.on("unhandledRejection", (err) => {
    logger.fatal({ err }, "unhandled rejection");
    process.exit(1);
  });
  let signals: { readonly stopping: boolean } | undefined;
  let config;
  try {
    const { storage } = loadConfig();
    config = loadApiConfig(storage);
  } catch (err) {
    logger.fatal({ err: String(err) }, "bad configuration");
    process.exit(EXIT_FATAL_CONFIG);
  }
  // reconnects forever; runs followed across a reconnect replay their documents
  const client = await connect({ name: "gently-api", reconnect: true, timeoutMs: 15_000 });
  void client.nc.closed().then((err) => {
    if (!signals?.stopping) {
      logger.fatal({ err }, "NATS connection closed");
      process.exit(1);
    }
  });
  void watchConnection(client.nc, logger);
  const server = await startApiServer({ client, port: config.port, guard: config.guard, logger });
  logger.info({ port: server.port }, "started");
  signals = onStopSignal(logger, async (signal) => {
    logger.info({ signal }, "stopping");
    await server.stop();
    await client.close();
    logger.info("stopped");
    process.exit(0);
  });
}

/** Logs disconnects and reconnects: the client reconnects forever by itself. */
async function watchConnection(nc: NatsConnection, logger: Logger): Promise<void> {
  for await (const s of nc.status()) {
    if (s.type === "disconnect" || s.type === "reconnect") logger.warn({ event: s.type }, `NATS ${s.type}`);
  }
}

main().catch((err) => {
  createLogger("api").fatal({ err }, "failed to start");
  process.exit(1);
});
