import { runProcess } from "@gently/bus";
import { envValue } from "@gently/config";
import { startPlanRunner } from "./service";

runProcess("plan-runner", async ({ config, logger, nc }) =>
  startPlanRunner({
    nc,
    logger,
    storage: config.storage,
    limits: {
      queueMax: envValue("GENTLY_PLAN_QUEUE_MAX"),
      readersMax: envValue("GENTLY_PLAN_READERS_MAX"),
    },
  }),
);
