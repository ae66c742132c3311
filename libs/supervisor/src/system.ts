import path from "node:path";
import { fileURLToPath } from "node:url";
import { PROCESS_NAMES } from "@gently/protocol";

/** Repository root (this file is libs/supervisor/src/system.ts). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

/** Entry point of a service: services/<name>/src/main.ts, run with tsx. */
export function serviceEntry(name: string): string {
  return path.join(REPO_ROOT, "services", name, "src", "main.ts");
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

export function nodeArgsFor(entry: string): string[] {
  return ["--import", "tsx", entry];
}
