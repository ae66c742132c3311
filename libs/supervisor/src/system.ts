import path from "node:path";
import { fileURLToPath } from "node:url";
import { PROCESS_NAMES } from "@gently/protocol";

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** Repository root (this file is libs/supervisor/src/system.ts, or its compiled libs/supervisor/dist/system.js). */
export const REPO_ROOT = path.resolve(HERE, "../../..");

/** A supervisor compiled by `npm run build` (what `npm start` and the image run) starts the services' compiled entries. */
const RUNS_COMPILED = path.basename(HERE) === "dist";

/** Entry point of a service: services/<name>/dist/main.js when compiled, else services/<name>/src/main.ts (run with tsx). */
export function serviceEntry(name: string): string {
  return RUNS_COMPILED ? path.join(REPO_ROOT, "services", name, "dist", "main.js") : path.join(REPO_ROOT, "services", name, "src", "main.ts");
}

/**
 * Which services this host runs: all of them by default; GENTLY_SERVICES
 * (comma-separated) selects a subset, e.g. "hardware,writer" on the
 * microscope host when storage-side services run elsewhere.
 */
export function selectedServices(env: NodeJS.ProcessEnv = process.env): string[] {
  const raw = env.GENTLY_SERVICES?.trim();
  if (!raw) return [...PROCESS_NAMES];
  const wanted = raw.split(",").map((s) => s.trim()).filter(Boolean);
  const unknown = wanted.filter((name) => !(PROCESS_NAMES as readonly string[]).includes(name));
  if (unknown.length > 0) {
    throw new Error(`GENTLY_SERVICES names unknown services: ${unknown.join(", ")} (known: ${PROCESS_NAMES.join(", ")})`);
  }
  return wanted;
}

/** Node's arguments for an entry point: compiled JavaScript as it is, TypeScript through tsx. */
export function nodeArgsFor(entry: string): string[] {
  return entry.endsWith(".ts") ? ["--import", "tsx", entry] : [entry];
}
