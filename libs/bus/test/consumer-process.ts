import { z } from "zod";
import { consumeDurable, ensureStream, jetStreamOf, runProcess } from "../src/index";

/**
 * A minimal service process for the liveness tests: one durable consumer over
 * a test stream, run by runProcess exactly as every service is.
 */
runProcess("liveness-fixture", async ({ nc, logger }) => {
  const { jsm } = await jetStreamOf(nc);
  await ensureStream(jsm, { name: "LIVENESS_TEST", subjects: ["test.liveness.>"] });
  const consumer = await consumeDurable(nc, {
    stream: "LIVENESS_TEST",
    durable: "liveness-fixture",
    schema: z.unknown(),
    logger,
    handler: async (_body, subject) => void logger.info({ subject }, "consumed"),
  });
  return { stop: () => consumer.stop() };
});
