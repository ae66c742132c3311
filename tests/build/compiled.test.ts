import { execFile, execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SERVICE_NAMES } from "@gently/protocol";
import { REPO_ROOT } from "@gently/supervisor";
import { startTestSystem, type TestSystem } from "@gently/testing";

const CLI = path.join(REPO_ROOT, "libs/cli/bin/gently.js");
const run = promisify(execFile);

/** The command line a process was started with. */
const commandLine = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);

describe("the compiled system (npm run build; what npm start and the image run)", () => {
  let system: TestSystem;

  beforeAll(async () => {
    execFileSync(process.execPath, [path.join(REPO_ROOT, "scripts/build.mjs")], { stdio: "inherit" });
    system = await startTestSystem({ compiled: true });
  }, 180_000);

  afterAll(async () => {
    await system?.stop();
  });

  it("runs every service from its compiled entry with plain node, no TypeScript loader", () => {
    expect(commandLine(system.supervisor.child.pid!).slice(1)).toEqual([path.join(REPO_ROOT, "libs/supervisor/dist/main.js")]);
    for (const service of SERVICE_NAMES) {
      const args = commandLine(system.pidOf(service)).slice(1);
      expect(args, service).toEqual([path.join(REPO_ROOT, "services", service, "dist", "main.js")]);
    }
  });

  it("answers the compiled CLI: status, then an acquisition whose file is on disk", async () => {
    expect(existsSync(path.join(REPO_ROOT, "libs/cli/dist/main.js"))).toBe(true);
    const env = { ...process.env, ...system.env };
    const status = await run(process.execPath, [CLI, "status", "--json"], { env });
    const services = (JSON.parse(status.stdout) as { services: { service: string; state: string }[] }).services;
    expect(services.filter((s) => s.state === "up").map((s) => s.service).sort()).toEqual([...SERVICE_NAMES].sort());
    const acquired = await run(process.execPath, [CLI, "acquire", "--num-slices", "4", "--json"], { env });
    const volume = JSON.parse(acquired.stdout) as { uid: string; path: string; shape: number[] };
    expect(volume.shape[0]).toBe(4);
    expect(existsSync(volume.path)).toBe(true);
  }, 60_000);
});
