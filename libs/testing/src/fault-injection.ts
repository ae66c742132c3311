import path from "node:path";
import { fileURLToPath } from "node:url";

const PRELOAD = path.join(path.dirname(fileURLToPath(import.meta.url)), "inject-fault.mjs");

/**
 * Environment that makes one service process fail on SIGUSR2 (see inject-fault.mjs): an
 * uncaught exception or an unhandled rejection from inside the running process, as a bug would.
 * Other processes given the same environment (the supervisor, other services) are untouched.
 */
export function injectFaultEnv(service: string, fault: "exception" | "rejection" = "exception"): NodeJS.ProcessEnv {
  return {
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --import=${PRELOAD}`.trim(),
    GENTLY_INJECT_INTO: `services/${service}/src/main.ts`,
    GENTLY_INJECT_FAULT: fault,
  };
}
