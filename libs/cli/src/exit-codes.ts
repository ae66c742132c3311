/** Exit codes scripts can rely on. */
export const EXIT = {
  ok: 0,
  /** the request was refused or the run failed/aborted */
  failed: 1,
  /** bad command line */
  usage: 2,
  /** NATS or a needed service is not reachable */
  unavailable: 3,
} as const;
