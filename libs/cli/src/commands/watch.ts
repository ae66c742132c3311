import { GentlyError, type RunDocument } from "@gently/protocol";
import type { Command } from "../command";
import { EXIT } from "../exit-codes";
import { inlineRecord } from "../format";
import { withClient } from "./connect-client";

function line(d: RunDocument): string {
  // stream_resource and stream_datum carry no time of their own
  const t = "time" in d.doc ? new Date(d.doc.time * 1000).toISOString() : "";
  switch (d.kind) {
    case "start":
      return `${t} start ${d.doc.plan_name} session ${d.doc.session_id}  ${inlineRecord(d.doc.plan_args)}`;
    case "descriptor":
      return `${t} stream ${d.doc.name}: ${Object.keys(d.doc.data_keys).join(", ")}`;
    case "event":
      return `${t} event ${d.doc.seq_num}  ${inlineRecord(d.doc.data)}`;
    case "stream_resource":
      return `     file ${d.doc.uid} ${d.doc.shape.join("×")} ${d.doc.dtype} ${d.doc.path}`;
    case "stream_datum":
      return `     frames ${d.doc.indices.start}..${d.doc.indices.stop} of ${d.doc.stream_resource}`;
    case "stop":
      return `${t} stop ${d.doc.exit_status}: ${d.doc.reason} (${d.doc.volume_uids.length} files)`;
  }
}

export const watchCommand: Command = {
  name: "watch",
  summary: "follow a run's documents from its start (replayed if it already ended); exit 0 only if it succeeds",
  usage: "<run> ",
  options: {},
  async run({ positionals, json }) {
    const [run] = positionals;
    if (!run || positionals.length !== 1) {
      process.stderr.write("usage: gently watch <run>\n");
      return EXIT.usage;
    }
    return withClient(async (client) => {
      if (!(await client.knowsRun(run))) throw new GentlyError("not_found", `no run ${run}: not queued, not running, no documents`, "run_uid");
      for await (const d of client.run(run).documents()) {
        // one JSON document per line for scripts
        process.stdout.write((json ? JSON.stringify(d) : line(d)) + "\n");
        if (d.kind === "stop") return d.doc.exit_status === "success" ? EXIT.ok : EXIT.failed;
      }
      return EXIT.failed;
    });
  },
};
