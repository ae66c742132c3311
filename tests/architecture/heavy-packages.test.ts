import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SERVICE_NAMES } from "@gently/protocol";
import { startTestSystem, waitFor, type TestSystem } from "@gently/testing";

/** The heavy native packages a service may load: only the one that uses it. */
const ALLOWED: Record<string, string[]> = { indexer: ["better-sqlite3"], sam: ["onnxruntime-node"] };

describe("heavy native packages in a running system", () => {
  const logDir = mkdtempSync(path.join(tmpdir(), "gently-loads-"));
  let system: TestSystem;

  beforeAll(async () => {
    const hook = pathToFileURL(path.join(import.meta.dirname, "record-heavy-packages.mjs")).href;
    system = await startTestSystem({ env: { NODE_OPTIONS: `--import=${hook}`, GENTLY_TEST_LOAD_LOG: logDir } });
  }, 120_000);

  afterAll(async () => {
    await system?.stop();
    rmSync(logDir, { recursive: true, force: true });
  });

  const loadedBy = (pid: number): string[] | undefined => {
    const file = readdirSync(logDir).find((name) => name === `${pid}.json`);
    return file ? (JSON.parse(readFileSync(path.join(logDir, file), "utf8")) as { loaded: string[] }).loaded : undefined;
  };

  it("better-sqlite3 only in the indexer, onnxruntime-node only in sam (which uses them)", async () => {
    const seen: Record<string, string[]> = {};
    for (const service of SERVICE_NAMES) {
      seen[service] = await waitFor(() => loadedBy(system.pidOf(service)), 10_000, `${service}'s load record`);
    }
    seen.supervisor = (await waitFor(() => loadedBy(system.supervisor.child.pid!), 10_000, "the supervisor's load record"))!;
    const unexpected = Object.entries(seen).flatMap(([who, loaded]) => loaded.filter((pkg) => !(ALLOWED[who] ?? []).includes(pkg)).map((pkg) => `${who} loaded ${pkg}`));
    expect(unexpected).toEqual([]);
    expect(seen.indexer).toContain("better-sqlite3");
  });
});
