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
