import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { fsyncDir, moveNoReplace } from "./durable-fs";

describe("durable file moves", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "gently-durable-fs-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("moves a file to a free name, and refuses to replace an existing one, leaving both as they were", async () => {
    const from = path.join(dir, "a.partial");
    const to = path.join(dir, "a.tif");
    writeFileSync(from, "new");
    await moveNoReplace(from, to);
    expect(existsSync(from)).toBe(false);
    expect(readFileSync(to, "utf8")).toBe("new");

    writeFileSync(from, "newer");
    await expect(moveNoReplace(from, to)).rejects.toMatchObject({ code: "EEXIST" });
    expect(readFileSync(to, "utf8")).toBe("new");
    expect(readFileSync(from, "utf8")).toBe("newer");
    await fsyncDir(dir);
    await expect(fsyncDir(path.join(dir, "missing"))).rejects.toMatchObject({ code: "ENOENT" });
  });
});
