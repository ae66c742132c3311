import { createRequire } from "node:module";

/** The plan runner's version, from its package.json ($SRV.INFO and run documents report it). */
export const VERSION: string = (createRequire(import.meta.url)("../package.json") as { version: string }).version;
