import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "@gently/supervisor";

describe("native C libraries", () => {
  it("pass their own C tests (ring: slot life cycle, stale releases, cross-process; simulator: ABI, ground truth, ROI and binning)", () => {
    const run = spawnSync("make", ["-s", "-C", "native", "test"], { cwd: REPO_ROOT, encoding: "utf8", timeout: 120_000 });
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stdout).toContain("test_ring: ok");
    expect(run.stdout).toContain("test_sim: ok");
  });
});
