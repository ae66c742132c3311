import { runProcess } from "@gently/bus";
import { startVizServer } from "./viz-server";
import { registerVizService } from "./viz-service";

runProcess("viz", async ({ config, logger, nc }) => {
  const server = await startVizServer({ nc, storage: config.storage, port: config.httpPort, logger });
  const service = await registerVizService(nc, server, logger);
  return {
    stop: async () => {
      await service.stop();
      await server.stop();
    },
  };
});
