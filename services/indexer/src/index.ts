export { startIndexer, INDEXER_DURABLE, type IndexerOptions } from "./indexer";
export { applyDataEvent } from "./data-events";
export { datastoreHandlers } from "./endpoints";
