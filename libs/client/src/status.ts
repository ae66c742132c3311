import type { NatsConnection } from "@nats-io/transport-node";
import { Svcm, type ServiceInfo, type ServiceStats } from "@nats-io/services";
import { microServiceName, SERVICE_NAMES, ServiceLiveness } from "@gently/protocol";

export interface ServiceHealth {
  service: string;
  /** answered $SRV.PING within the timeout */
  up: boolean;
  /**
   * down: no instance answers; degraded: one answers but says a part of it does not work (reasons);
   * failed: the process exited on a configuration that cannot work and is not restarted (reasons: its message)
   */
  state: "up" | "degraded" | "failed" | "down";
  reasons: string[];
  instances: {
    id: string;
    version: string;
    state: ServiceLiveness["state"];
    reasons: string[];
    endpoints: { name: string; subject: string; requests: number; errors: number; last_error?: string }[];
  }[];
}

export interface SystemStatus {
  nats: { url: string; connected: boolean };
  services: ServiceHealth[];
  /** NATS reachable and every service of the system answers */
  healthy: boolean;
}

async function collect<T>(iter: Promise<AsyncIterable<T>>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of await iter) out.push(item);
  return out;
}

/**
 * After the last answer, how long to wait for another instance's: instances answer within
 * milliseconds of one another, so a status returns as soon as they have, not after timeoutMs.
 */
const INSTANCE_STALL_MS = 100;

/** Asks every service of the system for its info and stats over the micro-services protocol. */
export async function systemStatus(
  nc: NatsConnection,
  services: readonly string[] = SERVICE_NAMES,
  timeoutMs = 1_500,
): Promise<SystemStatus> {
  const client = new Svcm(nc).client({ strategy: "stall", stall: INSTANCE_STALL_MS, maxWait: timeoutMs });
  const health = await Promise.all(
    services.map(async (service): Promise<ServiceHealth> => {
      const name = microServiceName(service);
      const [infos, stats] = await Promise.all([
        collect<ServiceInfo>(client.info(name)).catch(() => []),
        collect<ServiceStats>(client.stats(name)).catch(() => []),
      ]);
      const instances = infos.map((info) => {
        const s = stats.find((st) => st.id === info.id);
        const liveness = livenessOf(s);
        return {
          id: info.id,
          version: info.version,
          ...liveness,
          endpoints: info.endpoints.map((ep) => {
            const es = s?.endpoints?.find((e) => e.name === ep.name);
            return {
              name: ep.name,
              subject: ep.subject,
              requests: es?.num_requests ?? 0,
              errors: es?.num_errors ?? 0,
              ...(es?.last_error ? { last_error: es.last_error } : {}),
            };
          }),
        };
      });
      const degraded = instances.filter((i) => i.state === "degraded");
      const failed = instances.filter((i) => i.state === "failed");
      return {
        service,
        up: instances.length > failed.length,
        state: instances.length === 0 ? "down" : failed.length === instances.length ? "failed" : degraded.length > 0 ? "degraded" : "up",
        reasons: [...failed, ...degraded].flatMap((i) => i.reasons),
        instances,
      };
    }),
  );
  return {
    nats: { url: nc.getServer(), connected: !nc.isClosed() },
    services: health,
    healthy: health.every((h) => h.state === "up"),
  };
}

/**
 * An instance's own judgement, from the data of its endpoint stats (libs/bus puts it there).
 * Stats that did not arrive say nothing against it: $SRV.INFO answered, so it is up.
 */
function livenessOf(stats: ServiceStats | undefined): ServiceLiveness {
  for (const endpoint of stats?.endpoints ?? []) {
    const parsed = ServiceLiveness.safeParse((endpoint.data as { liveness?: unknown } | undefined)?.liveness);
    if (parsed.success) return parsed.data;
  }
  return { state: "up", reasons: [] };
}
