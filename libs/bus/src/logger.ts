import pino, { type Logger } from "pino";

export type { Logger };

/**
 * Structured JSON logs on stdout, one stream per process, tagged with the
 * service name; `toStderr` for processes whose stdout is a protocol (`gently mcp`).
 */
export function createLogger(service: string, level = process.env.GENTLY_LOG_LEVEL ?? "info", toStderr = false): Logger {
  return pino(
    {
      name: service,
      level,
      base: { service, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    toStderr ? pino.destination(2) : undefined,
  );
}
