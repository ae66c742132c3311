import type { SystemStatus } from "@gently/client";
import { SERVICE_NAMES } from "@gently/protocol";
import { EXIT } from "../exit-codes";
import { emit, table } from "../output";
import type { Command } from "../command";

function describe(status: SystemStatus): string {
  const rows = [["SERVICE", "STATE", "VERSION", "ENDPOINTS", "REQUESTS", "ERRORS"]];
  for (const s of status.services) {
    const inst = s.instances[0];
    const sum = (key: "requests" | "errors") =>
      s.instances.reduce((n, i) => n + i.endpoints.reduce((m, e) => m + e[key], 0), 0);
    rows.push([
      s.service,
      s.state === "down" ? "DOWN" : s.state === "failed" ? "FAILED" : `${s.state === "degraded" ? "DEGRADED" : "up"}${s.instances.length > 1 ? ` ×${s.instances.length}` : ""}`,
      inst?.version ?? "-",
      String(inst?.endpoints.length ?? 0),
      String(sum("requests")),
      String(sum("errors")),
    ]);
  }
  const degraded = status.services.flatMap((s) => s.reasons.map((r) => `${s.service} ${s.state === "failed" ? "failed (not restarted)" : "degraded"}: ${r}`));
  const verdict = status.healthy
    ? "all services answer"
    : status.services.some((s) => s.state === "down")
      ? "some services do not answer"
      : status.services.some((s) => s.state === "failed")
      ? "some services failed on their configuration: fix it and restart"
      : "every service answers, some degraded";
  return `NATS ${status.nats.url}: connected\n${table(rows)}\n${[...degraded, verdict].join("\n")}`;
}

export const statusCommand: Command = {
  name: "status",
  summary: "which services are up, degraded or down, their versions and health (exit 0 only when all are up)",
  options: {
    wait: { type: "string", description: "keep asking for up to this many seconds until all answer" },
    service: { type: "string", description: "check one service only (container healthchecks)" },
  },
  async run({ values, json }) {
    const only = values.service === undefined ? undefined : String(values.service);
    if (only !== undefined && !(SERVICE_NAMES as readonly string[]).includes(only)) {
      process.stderr.write(`--service must be one of ${SERVICE_NAMES.join(", ")}, got '${only}'\n`);
      return EXIT.usage;
    }
    const waitS = values.wait === undefined ? 0 : Number(values.wait);
    if (!Number.isFinite(waitS) || waitS < 0) {
      process.stderr.write(`--wait must be a number of seconds ≥ 0, got '${values.wait}'\n`);
      return EXIT.usage;
    }
    const deadline = Date.now() + waitS * 1000;
    for (;;) {
      const status = await probe(only ? [only] : SERVICE_NAMES);
      const last = Date.now() >= deadline;
      if (status && (status.healthy || last)) {
        emit(json, status, () => describe(status));
        return status.healthy ? EXIT.ok : EXIT.unavailable;
      }
      if (!status && last) {
        const url = (await import("@gently/client/connect")).defaultNatsUrl();
        emit(json, { nats: { url, connected: false }, services: [], healthy: false }, () => `NATS ${url}: not reachable`);
        return EXIT.unavailable;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  },
};

async function probe(services: readonly string[]): Promise<SystemStatus | null> {
  // only what a status needs: not the client's volume readers
  const [{ connectNats }, { systemStatus }] = await Promise.all([import("@gently/client/connect"), import("@gently/client/status")]);
  let nc;
  try {
    nc = await connectNats({ reconnect: false, name: "gently-cli" });
  } catch {
    return null;
  }
  try {
    return await systemStatus(nc, services);
  } finally {
    await nc.close();
  }
}
