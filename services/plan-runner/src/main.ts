import { runProcess } from "@gently/bus";
import { startPlanRunner } from "./service";

runProcess("plan-runner", async ({ config, logger, nc }) => startPlanRunner({ nc, logger, storage: config.storage }));
