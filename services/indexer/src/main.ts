import { runProcess } from "@gently/bus";
import { startIndexer } from "./indexer";

await runProcess("indexer", ({ config, logger, nc }) => startIndexer({ nc, storage: config.storage, logger }));
