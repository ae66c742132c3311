import type { call } from "@gently/bus";
import type { RebuildReport, VerifyReport } from "@gently/datastore";
import { datastore, DataType, GentlyError, type DataItem } from "@gently/protocol";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Command } from "../command";
import { EXIT } from "../exit-codes";
import { formatBytes } from "../format";
import { emit, table } from "../output";
import { progressBar } from "../progress-bar";

const USAGE = "rebuild | verify [--quick] | get <uid> | list [--session S] [--type T] [--run R] [--limit N] | sessions ";

function describeRebuild(r: RebuildReport, index: string, movedAside?: string): string {
  const types = Object.entries(r.by_type).map(([t, n]) => `${t} ${n}`).join(", ");
  const lines = [`rebuilt ${index}: ${r.items} items (${types || "none"}), ${r.sessions} sessions; ${r.items_before} items before`];
  if (movedAside) lines.push(`the old index was unreadable and is kept at ${movedAside}`);
  if (r.lost_uids.length) lines.push(`${r.lost_uids.length} items of the old index have no file any more: ${r.lost_uids.join(", ")}`);
  if (r.skipped.length) lines.push(`skipped ${r.skipped.length} files:`, ...r.skipped.map((s) => `  ${s.path}: ${s.reason}`));
  if (r.field_differences.length) {
    lines.push("fields only the events knew (now as the files tell them):", ...r.field_differences.map((d) => `  ${d.field} (${d.items} items, e.g. ${d.example_uid})`));
  }
  return lines.join("\n");
}

function describeVerify(r: VerifyReport): string {
  const lines = [`checked ${r.checked} files (${r.checksums_verified} checksums): ${r.ok ? "OK" : "PROBLEMS"}`];
  for (const m of r.missing) lines.push(`missing   ${m.uid}  ${m.path}`);
  for (const m of r.size_mismatch) lines.push(`size      ${m.uid}  ${m.path}  ${formatBytes(m.actual_bytes)} (${m.actual_bytes} bytes), expected ${m.expected_bytes} bytes`);
  for (const m of r.checksum_mismatch) lines.push(`checksum  ${m.uid}  ${m.path}  ${m.actual}, expected ${m.expected}`);
  for (const f of r.unknown_files) lines.push(`unknown   ${f}`);
  for (const n of r.not_data) lines.push(`not data  ${n.uid}  ${n.path}  ${n.reason}`);
  return lines.join("\n");
}

function itemTable(items: DataItem[]): string {
  if (items.length === 0) return "no items";
  return table([
    ["UID", "TYPE", "SESSION", "CREATED", "SIZE", "PATH"],
    ...items.map((i) => [i.uid, i.data_type, i.session_id ?? "-", i.created, formatBytes(i.bytes), i.path ?? "-"]),
  ]);
}

/** A request to the indexer; the bus and the client load only for these subcommands. */
async function askIndexer<T>(fn: (nc: NatsConnection, bus: typeof import("@gently/bus")) => Promise<T>): Promise<T> {
  const [bus, { connectNats }] = await Promise.all([import("@gently/bus"), import("@gently/client")]);
  let nc: NatsConnection;
  try {
    nc = await connectNats({ reconnect: false, name: "gently-cli" });
  } catch (err) {
    throw new GentlyError("unavailable", `NATS is not reachable: ${(err as Error).message}`);
  }
  try {
    return await fn(nc, bus);
  } finally {
    await nc.close();
  }
}

export const datastoreCommand: Command = {
  name: "datastore",
  summary: "the UID index: rebuild or verify it from {storage} (no NATS), or query the indexer",
  usage: USAGE,
  options: {
    session: { type: "string", description: "list: only this session" },
    type: { type: "string", description: `list: only this data type (${DataType.options.join(", ")})` },
    run: { type: "string", description: "list: only this run uid" },
    limit: { type: "string", description: "list: at most this many items (default 100)" },
    quick: { type: "boolean", description: "verify: sizes only, no checksums" },
  },
  async run({ values, positionals, json }) {
    const [sub, ...args] = positionals;
    switch (sub) {
      case "rebuild": {
        // Works on the files directly; refused (exit 1) while the indexer holds the index lock.
        const [{ loadConfig }, { openForRebuild }] = await Promise.all([import("@gently/bus"), import("@gently/datastore")]);
        const { storage } = loadConfig();
        const { store, movedAside } = openForRebuild(storage);
        const bar = progressBar(!json);
        try {
          const report = await store.rebuild({ onProgress: (p) => bar.update(p) });
          bar.stop();
          emit(json, { ...report, ...(movedAside ? { moved_aside: movedAside } : {}) }, () => describeRebuild(report, store.db.name, movedAside));
          return EXIT.ok;
        } finally {
          bar.stop();
          store.close();
        }
      }
      case "verify": {
        const [{ loadConfig }, { DataStore }] = await Promise.all([import("@gently/bus"), import("@gently/datastore")]);
        const store = new DataStore(loadConfig().storage);
        const bar = progressBar(!json);
        try {
          const report = await store.verify({ checksums: values.quick !== true, onProgress: (p) => bar.update(p) });
          bar.stop();
          emit(json, report, () => describeVerify(report));
          return report.ok ? EXIT.ok : EXIT.failed;
        } finally {
          bar.stop();
          store.close();
        }
      }
      case "get": {
        if (args.length !== 1) return usage("get takes one uid");
        const item = await askIndexer((nc, { call }) => call(nc, datastore.get, { uid: args[0]! as DataItem["uid"] }));
        emit(json, item, () => JSON.stringify(item, null, 2));
        return EXIT.ok;
      }
      case "list": {
        const limit = values.limit === undefined ? undefined : Number(values.limit);
        const query = {
          ...(values.session !== undefined ? { session_id: String(values.session) } : {}),
          ...(values.type !== undefined ? { data_type: String(values.type) } : {}),
          ...(values.run !== undefined ? { run_uid: String(values.run) } : {}),
          ...(limit !== undefined ? { limit } : {}),
        } as Parameters<typeof call<typeof datastore.list>>[2];
        const { items } = await askIndexer((nc, { call }) => call(nc, datastore.list, query));
        emit(json, { items }, () => itemTable(items));
        return EXIT.ok;
      }
      case "sessions": {
        const { sessions } = await askIndexer((nc, { call }) => call(nc, datastore.sessions, {}));
        emit(json, { sessions }, () =>
          sessions.length === 0
            ? "no sessions"
            : table([
                ["SESSION", "ITEMS", "SIZE", "FIRST", "LAST"],
                ...sessions.map((s) => [s.session_id, String(s.items), formatBytes(s.bytes), s.first, s.last]),
              ]),
        );
        return EXIT.ok;
      }
      default:
        return usage(sub === undefined ? "which datastore command?" : `unknown datastore command '${sub}'`);
    }
  },
};

function usage(message: string): number {
  process.stderr.write(`${message}\nusage: gently datastore ${USAGE}\n`);
  return EXIT.usage;
}
