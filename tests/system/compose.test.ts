import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { DOOR_NAMES, NATS_USERS, natsUserOf, passwordEnvVar, SERVICE_NAMES } from "@gently/protocol";
import { REPO_ROOT } from "@gently/supervisor";

interface ComposeService {
  command?: string[];
  volumes?: string[];
  ipc?: string;
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  image?: string;
  build?: string;
}

const compose = parse(readFileSync(path.join(REPO_ROOT, "docker-compose.yml"), "utf8"), { merge: true }) as {
  services: Record<string, ComposeService>;
};
const STORAGE_USERS = ["writer", "indexer", "viz", "sam"];

describe("docker-compose.yml", () => {
  it("runs every service the launcher knows, from the one image, with its own NATS account and a $SRV healthcheck", () => {
    for (const name of SERVICE_NAMES) {
      const svc = compose.services[name];
      expect(svc, `service ${name} in compose`).toBeDefined();
      expect(svc!.image).toBe("gently:latest");
      expect(svc!.command).toEqual([`services/${name}/dist/main.js`]);
      expect(svc!.environment?.GENTLY_NATS_USER).toBe(name);
      expect(svc!.environment?.GENTLY_NATS_PASSWORD).toContain(passwordEnvVar(name));
      expect(svc!.healthcheck?.test.join(" ")).toContain(`status --service ${name}`);
    }
  });

  it("runs each door (the copilot's HTTP API) under the copilot's account, with an HTTP healthcheck", () => {
    for (const name of DOOR_NAMES) {
      const svc = compose.services[name];
      expect(svc, `door ${name} in compose`).toBeDefined();
      expect(svc!.command).toEqual([`services/${name}/dist/main.js`]);
      expect(svc!.environment?.GENTLY_NATS_USER).toBe(natsUserOf(name));
      expect(svc!.environment?.GENTLY_NATS_PASSWORD).toContain(passwordEnvVar("copilot"));
      expect(svc!.healthcheck?.test.join(" ")).toContain("/healthz");
    }
  });

  it("shares the storage volume between writer, indexer, viz and sam, and /dev/shm between hardware and writer", () => {
    for (const name of STORAGE_USERS.filter((n) => (SERVICE_NAMES as readonly string[]).includes(n))) {
      expect(compose.services[name]!.volumes, name).toContain("storage:/data/storage");
    }
    expect(compose.services.hardware!.ipc).toBe("shareable");
    expect(compose.services.writer!.ipc).toBe("service:hardware");
    expect(compose.services.hardware!.volumes ?? []).not.toContain("storage:/data/storage");
  });

  it("runs NATS with nats.conf and a JetStream volume, every password from the environment and none in the file", () => {
    const nats = compose.services.nats!;
    expect(nats.volumes).toContain("./nats.conf:/etc/nats/nats.conf:ro");
    expect(nats.volumes).toContain("jetstream:/data/jetstream");
    for (const user of NATS_USERS) expect(nats.environment?.[passwordEnvVar(user)]).toMatch(/^\$\{GENTLY_PW_/);
    const conf = readFileSync(path.join(REPO_ROOT, "nats.conf"), "utf8");
    for (const user of NATS_USERS) expect(conf).toContain(`password: $${passwordEnvVar(user)}`);
  });

  it("is built by a multi-stage Dockerfile whose image holds the compiled output and production dependencies only, run as a user", () => {
    const dockerfile = readFileSync(path.join(REPO_ROOT, "Dockerfile"), "utf8");
    const stages = dockerfile.split(/^FROM /m).slice(1);
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(stages[0]).toMatch(/npm ci\b[^\n]*&& make -s -C native && npm run build/);
    expect(dockerfile).toMatch(/npm prune --omit=dev/);
    const runtime = stages.at(-1)!;
    expect(runtime).toMatch(/^COPY --from=production-dependencies \/app\/node_modules node_modules$/m);
    expect(runtime).not.toMatch(/npm (ci|install)|build-essential|tsx/);
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toMatch(/^ENTRYPOINT \["node"\]$/m);
  });

  it("is accepted by `docker-compose config` where the client is installed", () => {
    const probe = spawnSync("docker-compose", ["version"], { encoding: "utf8" });
    if (probe.error) {
      console.warn("docker-compose not installed: skipping `config` validation (setup.sh --test installs it)");
      return;
    }
    const env = { ...process.env, ...Object.fromEntries(NATS_USERS.map((u) => [passwordEnvVar(u), "x"])) };
    const out = execFileSync("docker-compose", ["-f", "docker-compose.yml", "config"], { cwd: REPO_ROOT, env, encoding: "utf8" });
    expect(parse(out).services.writer.ipc).toBe("service:hardware");
  });
});
