import { runProcess } from "@gently/bus";
import { envValue } from "@gently/config";
import { httpGuardSettings, VIZ_HTTP_ENV } from "@gently/http-guard";
import { startVizServer } from "./viz-server";
import { registerVizService } from "./viz-service";

runProcess("viz", async ({ config, logger, nc }) => {
  const server = await startVizServer({
    nc,
    storage: config.storage,
    port: config.httpPort,
    http: httpGuardSettings(VIZ_HTTP_ENV, config.storage),
    maxSseStreams: envValue("GENTLY_SSE_MAX"),
    logger,
  });
  const service = await registerVizService(nc, server, logger);
  return {
    stop: async () => {
      await service.stop();
      await server.stop();
    },
  };
});
