import type { Command } from "../command";
import { EXIT } from "../exit-codes";
import { emit, table } from "../output";
import { withClient } from "./connect-client";

export const historyCommand: Command = {
  name: "history",
  summary: "finished runs, newest first (kept across plan-runner restarts)",
  options: {
    limit: { type: "string", description: "at most this many runs [default 20]" },
    "session-id": { type: "string", description: "only runs of this session" },
  },
  async run({ values, json }) {
    const limit = values.limit === undefined ? 20 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1) {
      process.stderr.write(`--limit must be an integer ≥ 1, got '${values.limit}'\n`);
      return EXIT.usage;
    }
    const session_id = typeof values["session-id"] === "string" ? values["session-id"] : undefined;
    const runs = await withClient((c) => c.history({ limit, ...(session_id ? { session_id } : {}) }));
    emit(json, { runs }, () =>
      runs.length === 0
        ? "no runs yet"
        : table([
            ["RUN", "PLAN", "SESSION", "ENDED", "STATUS", "VOLUMES", "REASON"],
            ...runs.map((r) => [r.run_uid, r.plan, r.session_id, r.ended, r.exit_status, String(r.volume_uids.length), r.reason]),
          ]),
    );
    return EXIT.ok;
  },
};
