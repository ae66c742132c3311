import { z } from "zod";

/**
 * The processes of the system, as registered with the NATS micro-services
 * protocol. `gently status` expects every one of these to answer $SRV.PING;
 * the supervisor starts one OS process for each.
 */
export const SERVICE_NAMES = ["hardware", "writer", "plan-runner", "indexer", "sam", "viz"] as const satisfies readonly string[];

export type ServiceName = (typeof SERVICE_NAMES)[number];

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
  state: z.enum(["up", "degraded"]),
  reasons: z.array(z.string().max(1000)).max(100),
});
export type ServiceLiveness = z.infer<typeof ServiceLiveness>;
