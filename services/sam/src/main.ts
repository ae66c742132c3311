import { runProcess } from "@gently/bus";
import { startSamService } from "./sam-service";

runProcess("sam", async ({ config, logger, nc }) => {
  const service = await startSamService({ nc, logger, storage: config.storage });
  return { stop: () => service.stop() };
});
