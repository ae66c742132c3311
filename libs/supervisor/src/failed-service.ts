import type { NatsConnection } from "@nats-io/transport-node";
import { Svcm } from "@nats-io/services";
import { connectBus, encodeJson, type Logger } from "@gently/bus";
import { GentlyError, microServiceName, type ServiceLiveness } from "@gently/protocol";

export interface FailedServiceOptions {
  /** NATS URL(s) */
  servers: string;
  /** the failed service's own account, so the registration needs no permission it lacks */
  user?: string;
  pass?: string;
  /** service name, e.g. "hardware" */
  name: string;
  /** why it failed: its last fatal log message */
  message: string;
  logger: Logger;
}

/**
 * Keeps a service that failed on its configuration visible to `gently
 * status`: the supervisor registers gently-<name> in its place, on the
 * service's own account, with one endpoint ($SRV.FAILED.gently-<name>) whose
 * stats say state "failed" and why, and which answers every request with
 * `unavailable` and that message. So the service shows as FAILED with its
 * reason, not as DOWN, until someone fixes the configuration and restarts.
 */
export async function announceFailedService(opts: FailedServiceOptions): Promise<{ stop(): Promise<void> }> {
  const nc: NatsConnection = await connectBus({
    servers: opts.servers.split(","),
    name: `gently-supervisor-${opts.name}-failed`,
    logger: opts.logger,
    user: opts.user,
    pass: opts.pass,
  });
  const liveness: ServiceLiveness = { state: "failed", reasons: [opts.message] };
  const service = await new Svcm(nc).add({
    name: microServiceName(opts.name),
    // the micro-services protocol wants semver; the pre-release tag says what this instance is
    version: "0.0.0-failed",
    description: `failed: ${opts.message}`,
    metadata: { failed: "true" },
    statsHandler: async () => ({ liveness }),
  });
  const refusal = new GentlyError("unavailable", `${opts.name} failed on its configuration and is not restarted: ${opts.message}`);
  service.addEndpoint("failed", {
    subject: `$SRV.FAILED.${microServiceName(opts.name)}`,
    handler: (_err, msg) => {
      msg.respondError(refusal.status, refusal.message.replace(/[\r\n]+/g, " ").slice(0, 1024), encodeJson(refusal.toBody()));
    },
  });
  await nc.flush();
  opts.logger.warn({ service: opts.name, reason: opts.message }, "registered the failed service for status");
  return {
    stop: async () => {
      await service.stop().catch(() => undefined);
      await nc.close().catch(() => undefined);
    },
  };
}
