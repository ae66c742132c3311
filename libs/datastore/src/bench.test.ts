import { describe, expect, it } from "vitest";
import { benchDataStore } from "./bench";

describe("benchDataStore", () => {
  it("builds the requested index and times the session query against a full scan (small size here)", async () => {
    const result = await benchDataStore({ rows: 2_000, sessions: 20, runs: 5 });
    expect(result).toMatchObject({ rows: 2_000, sessions: 20, runs: 5, target_ms: 20 });
    for (const key of ["session_list_ms", "sessions_summary_ms", "full_scan_ms", "scan_ratio"] as const) {
      expect(Number.isFinite(result[key]) && result[key] > 0).toBe(true);
    }
  });
});
