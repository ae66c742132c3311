import { rmSync, truncateSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeSampleVolume } from "@gently/datastore";
import type { VolumeWritten } from "@gently/protocol";
import { REPO_ROOT } from "@gently/supervisor";
import { spawnService, spawnTs, startTestNats, tempStorage, type TestNats } from "@gently/testing";

const CLI = path.join(REPO_ROOT, "libs", "cli", "src", "main.ts");

async function gently(env: NodeJS.ProcessEnv, ...args: string[]): Promise<{ code: number | null; out: string }> {
  const p = spawnTs(CLI, { GENTLY_LOG_LEVEL: "silent", ...env }, args);
  const { code } = await p.exited;
  return { code, out: p.lines.join("\n") };
}

describe("gently datastore", () => {
  const storage = tempStorage("gently-cli-datastore-");
  let volumes: VolumeWritten[];

  beforeAll(async () => {
    volumes = [await writeSampleVolume(storage.dir, { session_id: "cli" }), await writeSampleVolume(storage.dir, { session_id: "cli" })];
  });
  afterAll(() => storage.remove());

  it("rebuild indexes the files on disk without NATS; verify then finds them intact", async () => {
    const rebuild = await gently({ GENTLY_STORAGE: storage.dir }, "datastore", "rebuild", "--json");
    expect(rebuild.code).toBe(0);
    expect(JSON.parse(rebuild.out)).toMatchObject({ items: 2, by_type: { volume: 2 }, sessions: 1, skipped: [] });
    const verify = await gently({ GENTLY_STORAGE: storage.dir }, "datastore", "verify", "--json");
    expect(verify.code).toBe(0);
    expect(JSON.parse(verify.out)).toMatchObject({ ok: true, checked: 2, checksums_verified: 2 });
  });

  it("verify exits 1 and names the damaged files", async () => {
    truncateSync(volumes[0]!.path, 10);
    rmSync(volumes[1]!.path);
    const verify = await gently({ GENTLY_STORAGE: storage.dir }, "datastore", "verify");
    expect(verify.code).toBe(1);
    expect(verify.out).toMatch(new RegExp(`size\\s+${volumes[0]!.uid}`));
    expect(verify.out).toMatch(new RegExp(`missing\\s+${volumes[1]!.uid}`));
  });

  it("get and list ask the running indexer; rebuild is refused while it holds the index", async () => {
    const nats: TestNats = await startTestNats();
    const env = { GENTLY_STORAGE: storage.dir, GENTLY_NATS_URL: nats.url };
    const indexer = spawnService("indexer", { ...env, GENTLY_LOG_LEVEL: "info" });
    try {
      await indexer.waitForLog((l) => l.includes('"msg":"started"'));
      const item = await gently(env, "datastore", "get", volumes[0]!.uid, "--json");
      expect(item.code).toBe(0);
      expect(JSON.parse(item.out)).toMatchObject({ uid: volumes[0]!.uid, session_id: "cli" });
      const list = await gently(env, "datastore", "list", "--session", "cli");
      expect(list.code).toBe(0);
      for (const v of volumes) expect(list.out).toContain(v.uid);
      // sizes for people: "12.3 kB", not a byte count
      expect(list.out).toMatch(/^UID\s+TYPE\s+SESSION\s+CREATED\s+SIZE\s+PATH$/m);
      expect(list.out).toMatch(/\s\d+(\.\d+)? (B|kB|MB|GB)\s/);
      expect((await gently(env, "datastore", "get", "not-a-uid")).code).toBe(1);
      const refused = await gently(env, "datastore", "rebuild");
      expect(refused.code).toBe(1);
      expect(refused.out).toMatch(/conflict.*held by indexer/);
    } finally {
      await indexer.stop();
      await nats.stop();
    }
    expect((await gently({ GENTLY_STORAGE: storage.dir, GENTLY_NATS_URL: "nats://127.0.0.1:1" }, "datastore", "list")).code).toBe(3);
    expect((await gently({ GENTLY_STORAGE: storage.dir }, "datastore", "frobnicate")).code).toBe(2);
  });
});
