import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "@gently/supervisor";
import { spawnTs, startTestSystem, waitFor, type TestSystem } from "@gently/testing";

const CLI = path.join(REPO_ROOT, "libs", "cli", "src", "main.ts");

/**
 * A configuration that cannot work (here: a roles file naming a scanner the
 * core does not have) under the real supervisor: the hardware exits with the
 * fatal-config code once, is not restarted, and `gently status` shows it
 * FAILED with its message, while transient failures of others still restart.
 */
describe("a service failing on its configuration under the supervisor", () => {
  let system: TestSystem;
  const dir = mkdtempSync(path.join(os.tmpdir(), "gently-fatal-"));
  const rolesFile = path.join(dir, "roles.json");

  beforeAll(async () => {
    writeFileSync(rolesFile, JSON.stringify({ scanner: "Scanner:AB:99" }));
    // Only the writer is awaited as started: the hardware never gets there.
    system = await startTestSystem({ services: ["writer"], env: { GENTLY_SERVICES: "hardware,writer", GENTLY_ROLES: rolesFile } });
  }, 120_000);

  afterAll(async () => {
    await system?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const hardwareStarts = () => system.supervisor.lines.filter((l) => l.includes('"child started"') && l.includes('"child":"hardware"')).length;

  it("is not restarted, and gently status shows it FAILED with the message naming role, label and file", async () => {
    const failed = await system.supervisor.waitForLog((l) => l.includes("child failed on its configuration; not restarting"), 60_000);
    const entry = JSON.parse(failed) as { child: string; code: number; reason: string };
    expect(entry).toMatchObject({ child: "hardware", code: 78 });
    expect(entry.reason).toBe(`role scanner: no device "Scanner:AB:99" in core config ${system.env.GENTLY_CONFIG} (roles from GENTLY_ROLES ${rolesFile})`);
    // The first restart would come 0.5 s after a crash; give it several times that.
    await new Promise((r) => setTimeout(r, 3_000));
    expect(hardwareStarts()).toBe(1);

    const status = await waitFor(async () => {
      const p = spawnTs(CLI, { GENTLY_LOG_LEVEL: "silent", GENTLY_NATS_URL: system.nats.url, GENTLY_STORAGE: system.storage }, ["status", "--service", "hardware"]);
      const { code } = await p.exited;
      const out = p.lines.join("\n");
      return /FAILED/.test(out) ? { code, out } : null;
    }, 20_000, "status to show the failed hardware");
    expect(status.code).toBe(3);
    expect(status.out).toMatch(/hardware\s+FAILED/);
    expect(status.out).toContain(`hardware failed (not restarted): ${entry.reason}`);
  }, 90_000);
});
