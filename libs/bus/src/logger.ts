import pino, { type Logger } from "pino";

export type { Logger };

/**
 * Structured JSON logs on stdout, one stream per process, tagged with the
 * service name. `to`: true for stderr (processes whose stdout is a protocol:
 * `gently mcp`), or a stream of JSON lines (the supervisor's console for people).
 */
export function createLogger(service: string, level = process.env.GENTLY_LOG_LEVEL ?? "info", to: boolean | pino.DestinationStream = false): Logger {
  return pino(
    {
      name: service,
      level,
      base: { service, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    to === true ? pino.destination(2) : to === false ? undefined : to,
  );
}
