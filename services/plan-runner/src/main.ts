import { runProcess } from "@gently/bus";
import { capFromEnv } from "@gently/http-guard";
import { DEFAULT_QUEUE_LIMITS } from "./scheduler";
import { startPlanRunner } from "./service";

runProcess("plan-runner", async ({ config, logger, nc }) =>
  startPlanRunner({
    nc,
    logger,
    storage: config.storage,
    limits: {
      queueMax: capFromEnv("GENTLY_PLAN_QUEUE_MAX", DEFAULT_QUEUE_LIMITS.queueMax),
      readersMax: capFromEnv("GENTLY_PLAN_READERS_MAX", DEFAULT_QUEUE_LIMITS.readersMax),
    },
  }),
);
