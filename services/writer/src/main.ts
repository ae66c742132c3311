import { runProcess } from "@gently/bus";
import { loadWriterConfig } from "./config";
import { startWriter } from "./writer-service";

runProcess("writer", async ({ config, logger, nc }) => {
  const writer = await startWriter({ nc, logger, config: loadWriterConfig(config.storage) });
  return { stop: () => writer.stop() };
});
