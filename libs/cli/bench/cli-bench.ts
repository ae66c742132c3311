import { execFileSync, spawnSync } from "node:child_process";
import path from "node:path";
import { median, timeRuns } from "@gently/bench-stats";
import { REPO_ROOT } from "@gently/supervisor";
import { startTestSystem } from "@gently/testing";

export interface CliBenchResult {
  runs: number;
  /** median wall time of `node -e 0`, the floor of any node command (ms) */
  node_ms: number;
  help_ms: number;
  status_ms: number;
}

/** The installed `gently` command (node_modules/.bin/gently: the compiled CLI once built). */
const GENTLY = path.join(REPO_ROOT, "node_modules", ".bin", "gently");

/**
 * How long a person waits for `gently --help` and `gently status` (against
 * a whole running system), beside `node -e 0` measured in the same run; the
 * compiled output is built first.
 */
export async function benchCli(opts: { runs?: number } = {}): Promise<CliBenchResult> {
  const runs = opts.runs ?? 10;
  execFileSync(process.execPath, [path.join(REPO_ROOT, "scripts/build.mjs")], { stdio: "inherit" });
  const system = await startTestSystem();
  try {
    const env = { ...process.env, ...system.env };
    const timed = (command: string, args: string[]) =>
      median(
        timeRuns(runs, () => {
          const ran = spawnSync(command, args, { env, encoding: "utf8" });
          if (ran.status !== 0) throw new Error(`${[command, ...args].join(" ")} exited ${ran.status}: ${ran.stderr}`);
        }),
      );
    return {
      runs,
      node_ms: timed(process.execPath, ["-e", "0"]),
      help_ms: timed(GENTLY, ["--help"]),
      status_ms: timed(GENTLY, ["status"]),
    };
  } finally {
    await system.stop();
  }
}
