import path from "node:path";
import { createLogger, ensureCredentials, loadConfig, onStopSignal, passwordEnvironment, readCredentials } from "@gently/bus";
import { natsUserOf, type NatsUser } from "@gently/protocol";
import { DEFAULT_RESTART_POLICY, SupervisedChild } from "./child";
import { HumanConsole, logFormat } from "./human-console";
import { announceFailedService } from "./failed-service";
import { SupervisedNatsServer } from "./supervised-nats";
import { nodeArgsFor, REPO_ROOT, selectedServices, serviceEntry } from "./system";

/**
 * One command for one machine: an embedded nats-server (unless
 * GENTLY_NATS_URL names one) and every service as its own OS process.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const services = selectedServices();
  // a person at a terminal gets a summary; compose, pipes and GENTLY_LOG_FORMAT=json get every JSON line
  const output = logFormat() === "human" ? new HumanConsole(services, path.join(config.storage, "logs", "gently.log")) : process.stdout;
  const logger = createLogger("supervisor", undefined, output === process.stdout ? false : output);

  let nats: SupervisedNatsServer | undefined;
  let natsUrl = config.natsUrl;
  // Every process gets its own account. The embedded server runs on credentials
  // generated under {storage}/secrets (one file per account); against an external
  // NATS the files present are used, else each process's account comes from its environment.
  const credentials = natsUrl ? readCredentials(config.storage) : ensureCredentials(config.storage);
  if (!natsUrl) {
    nats = new SupervisedNatsServer({
      port: config.natsPort,
      storeDir: config.jetstreamDir,
      configFile: path.join(REPO_ROOT, "nats.conf"),
      env: passwordEnvironment(credentials),
      onLog: (line) => logger.debug({ child: "nats-server" }, line),
      // Ctrl-C must not stop NATS before the services: they are stopped first, then NATS
      ownProcessGroup: true,
    }, logger);
    await nats.start();
    natsUrl = nats.url;
    logger.info({ url: natsUrl, pid: nats.pid, storeDir: config.jetstreamDir }, "embedded nats-server started");
  }

  const env = { ...process.env, GENTLY_NATS_URL: natsUrl, GENTLY_STORAGE: config.storage };
  const accountOf = (name: string) => {
    const user = natsUserOf(name);
    // each child gets its own account's password and no other
    const password = credentials[user as NatsUser];
    return password ? { GENTLY_NATS_USER: user, GENTLY_NATS_PASSWORD: password } : {};
  };
  const failed: { stop(): Promise<void> }[] = [];
  const children = services.map(
    (name) =>
      new SupervisedChild(
        {
          name,
          command: process.execPath,
          args: nodeArgsFor(serviceEntry(name)),
          env: { ...env, ...accountOf(name) },
          cwd: REPO_ROOT,
        },
        logger,
        DEFAULT_RESTART_POLICY,
        output,
        // not restarted: registered in its place so `gently status` shows it FAILED with its reason
        (message) => {
          const account = accountOf(name);
          void announceFailedService({ servers: natsUrl!, user: account.GENTLY_NATS_USER, pass: account.GENTLY_NATS_PASSWORD, name, message, logger })
            .then((announced) => failed.push(announced))
            .catch((err) => logger.error({ child: name, err: String(err) }, "could not register the failed service"));
        },
      ),
  );
  for (const child of children) child.start();
  logger.info({ services, storage: config.storage }, "system started");

  onStopSignal(logger, async (signal) => {
    logger.info({ signal }, "stopping every service");
    await Promise.all(children.map((child) => child.stop()));
    await Promise.all(failed.map((f) => f.stop()));
    await nats?.stop();
    logger.info("system stopped");
    process.exit(0);
  });
}

main().catch((err) => {
  createLogger("supervisor").fatal({ err: String(err) }, "supervisor failed to start");
  process.exit(1);
});
