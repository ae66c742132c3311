import path from "node:path";
import { describe, expect, it } from "vitest";
import type { ConfigRow } from "@gently/config";
import { REPO_ROOT } from "@gently/supervisor";
import { spawnTs } from "@gently/testing";

const CLI = path.join(REPO_ROOT, "libs", "cli", "src", "main.ts");

async function gentlyConfig(env: NodeJS.ProcessEnv, ...args: string[]): Promise<{ code: number | null; lines: string[] }> {
  const p = spawnTs(CLI, { GENTLY_LOG_LEVEL: "silent", ...env }, ["config", ...args]);
  const { code } = await p.exited;
  return { code, lines: p.lines };
}

describe("gently config", () => {
  it("prints each setting with its value and where it came from", async () => {
    const r = await gentlyConfig({ GENTLY_STORAGE: "/srv/gently", GENTLY_RING_SLOTS: "32", GENTLY_NATS_PASSWORD: "s3cret-s3cret-s3cret" }, "--json");
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.lines.join("")) as ConfigRow[];
    const row = (name: string) => rows.find((x) => x.name === name);
    expect(row("GENTLY_STORAGE")).toMatchObject({ value: "/srv/gently", source: "environment" });
    expect(row("GENTLY_RING_SLOTS")).toMatchObject({ value: "32", source: "environment" });
    expect(row("GENTLY_HTTP_PORT")).toMatchObject({ value: "8080", source: "default" });
    expect(row("GENTLY_NATS_PASSWORD")).toMatchObject({ value: "(set)" });
    expect(r.lines.join("\n")).not.toContain("s3cret");
  });

  it("names a value a process would refuse, and fails", async () => {
    const r = await gentlyConfig({ GENTLY_WRITER_STOP_GRACE_MS: "20000" });
    expect(r.code).toBe(1);
    expect(r.lines.join("\n")).toMatch(/^GENTLY_WRITER_STOP_GRACE_MS\s+20000\s+environment/m);
    expect(r.lines).toContain("refused: GENTLY_WRITER_STOP_GRACE_MS='20000' must be at most 12000 (whole number 1-12000)");
  });
});
