import type { QueueReply } from "@gently/protocol";
import type { Command } from "../command";
import { EXIT } from "../exit-codes";
import { emit, table } from "../output";
import { withClient } from "./connect-client";

function describeQueue(q: QueueReply): string {
  const rows = [["#", "RUN", "PLAN", "SESSION", "STATE", "SUBMITTED"]];
  if (q.current) {
    const c = q.current;
    rows.push(["0", c.run_uid, c.plan, c.session_id, `${c.phase} ${c.done}/${c.total}`, c.submitted]);
  }
  q.queued.forEach((r, i) => rows.push([String(i + 1), r.run_uid, r.plan, r.session_id, "queued", r.submitted]));
  return rows.length === 1 ? "nothing running, nothing queued" : table(rows);
}

export const queueCommand: Command = {
  name: "queue",
  summary: "the run in progress and the queued runs; 'queue move <run> <position>', 'queue remove <run>'",
  usage: "[move <run> <position> | remove <run>] ",
  options: {},
  async run({ positionals, json }) {
    const [action, run, position] = positionals;
    let reply: QueueReply;
    if (action === undefined) {
      reply = await withClient((c) => c.queue());
    } else if (action === "move" && run && position && positionals.length === 3) {
      const pos = Number(position);
      if (!Number.isInteger(pos) || pos < 1) {
        process.stderr.write(`position must be an integer ≥ 1 (1 = next), got '${position}'\n`);
        return EXIT.usage;
      }
      reply = await withClient((c) => c.moveInQueue(run, pos));
    } else if (action === "remove" && run && positionals.length === 2) {
      reply = await withClient((c) => c.removeFromQueue(run));
    } else {
      process.stderr.write("usage: gently queue [move <run> <position> | remove <run>]\n");
      return EXIT.usage;
    }
    emit(json, reply, () => describeQueue(reply));
    return EXIT.ok;
  },
};
