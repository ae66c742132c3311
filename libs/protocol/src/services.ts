import { z } from "zod";

/**
 * The processes of the system, as registered with the NATS micro-services
 * protocol. `gently status` expects every one of these to answer $SRV.PING;
 * the supervisor starts one OS process for each.
 */
export const SERVICE_NAMES = ["hardware", "writer", "plan-runner", "indexer", "sam", "viz"] as const satisfies readonly string[];

export type ServiceName = (typeof SERVICE_NAMES)[number];

/**
 * Processes the supervisor starts that are doors for clients, not NATS
 * micro-services: each runs under the copilot's account (it may do exactly
 * what the copilot may) and so registers nothing under $SRV.
 */
export const DOOR_NAMES = ["api"] as const satisfies readonly string[];

/** Every process the supervisor can start (GENTLY_SERVICES picks among these). */
export const PROCESS_NAMES = [...SERVICE_NAMES, ...DOOR_NAMES] as const;

/** The NATS account a process runs under: its own for a service, the copilot's for a door. */
export function natsUserOf(processName: string): string {
  return (DOOR_NAMES as readonly string[]).includes(processName) ? "copilot" : processName;
}

/** Name a service registers under ($SRV.PING.<name>). */
export function microServiceName(service: string): string {
  return `gently-${service}`;
}

/**
 * How a running instance judges itself, carried in the `data` of its
 * `$SRV.STATS` endpoints: "up" = every required part works, "degraded" = it
 * answers but a part is not doing its work (e.g. a consumer that does not
 * consume), with one reason per part. An instance that does not answer is down.
 */
export const ServiceLiveness = z.object({
  /** "failed": the process exited on a configuration that cannot work and is not restarted; the supervisor answers for it */
  state: z.enum(["up", "degraded", "failed"]),
  reasons: z.array(z.string().max(1000)).max(100),
});
export type ServiceLiveness = z.infer<typeof ServiceLiveness>;
