import { mkdirSync, realpathSync, existsSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import {
  DerivedWritten,
  GentlyError,
  isUid,
  ListRequest,
  RegisterFacts,
  type DataItem,
  type DataType,
  type LineageReply,
  type SessionSummary,
} from "@gently/protocol";
import { z } from "zod";
import { acquireIndexLock, type IndexLock } from "./index-lock";
import type { ItemRecord } from "./item-record";
import { confineToStorage, indexPathOf, LAYOUT, sidecarPathFor, volumeFileName } from "@gently/storage";
import { rebuildIndex, type Progress, type RebuildReport } from "./rebuild";
import { verifyIndex, type VerifyReport } from "./verify";
import { itemFromRow, normalizeTime, type ItemRow } from "./rows";
import { createSchema, dropSchema, SCHEMA_VERSION, schemaVersion } from "./schema";
import { sessionUid } from "./session-uid";

export interface DataStoreOptions {
  /** hold `{storage}/index.lock` while open (the indexer does; a rebuild elsewhere is then refused) */
  holdLock?: string;
  readonly?: boolean;
}

export interface RegisterResult {
  item: DataItem;
  existed: boolean;
}

type ListQuery = z.output<typeof ListRequest>;

/** RegisterFacts, typed loosely enough that a DerivedWritten body fits; "session" is refused at run time. */
export type RegisterInput = Omit<RegisterFacts, "data_type"> & { data_type: DataType };

/**
 * The UID index of every file the device layer wrote: `{storage}/index.sqlite`
 * (better-sqlite3, WAL). Files are the truth; this index can always be
 * rebuilt from them (see rebuild.ts and README.md).
 */
export class DataStore {
  /** storage root as configured (paths in answers are under it) */
  readonly root: string;
  /** the root with symlinks resolved: the confinement boundary */
  readonly realRoot: string;
  readonly db: Database.Database;
  private lock: IndexLock | null = null;
  private readonly stmt;
  private readonly listStatements = new Map<string, Database.Statement>();

  constructor(storage: string, opts: DataStoreOptions = {}) {
    this.root = path.resolve(storage);
    if (!opts.readonly) mkdirSync(this.root, { recursive: true });
    this.realRoot = realpathSync(this.root);
    if (opts.holdLock) this.lock = acquireIndexLock(this.root, opts.holdLock);
    try {
      this.db = new Database(indexPathOf(this.root), { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false });
      if (!opts.readonly) {
        this.db.pragma("journal_mode = WAL");
        // WAL + NORMAL: a commit survives a process crash (the indexer killed with -9); only a power cut may lose the last ones, and rebuild recovers those.
        this.db.pragma("synchronous = NORMAL");
        this.db.pragma("busy_timeout = 5000");
        const version = schemaVersion(this.db);
        if (version !== 0 && version !== SCHEMA_VERSION) dropSchema(this.db);
        createSchema(this.db);
      }
    } catch (err) {
      this.lock?.release();
      throw err;
    }
    this.stmt = {
      byUid: this.db.prepare<[string], ItemRow>("SELECT * FROM items WHERE uid = ?"),
      byPath: this.db.prepare<[string], ItemRow>("SELECT * FROM items WHERE path = ?"),
      children: this.db.prepare<[string], ItemRow>("SELECT * FROM items WHERE parent_uid = ? ORDER BY created, rowid"),
      all: this.db.prepare<[], ItemRow>("SELECT * FROM items ORDER BY created, rowid"),
      insert: this.db.prepare(
        `INSERT INTO items (uid, data_type, path, shape, dtype, bytes, checksum, session_id, run_uid, parent_uid, created, metadata)
         VALUES (@uid, @data_type, @path, @shape, @dtype, @bytes, @checksum, @session_id, @run_uid, @parent_uid, @created, @metadata)`,
      ),
      // The session row: made with the session's first item, then kept up to date in the same transaction as
      // each item (earliest time, total bytes, item counts), so sessions() reads one row per session.
      upsertSession: this.db.prepare(
        `INSERT INTO items (uid, data_type, path, bytes, session_id, created, metadata)
         VALUES (@uid, 'session', NULL, @bytes, @session_id, @created,
                 json_object('items', 1, 'last', @created, 'by_type', json_object(@data_type, 1)))
         ON CONFLICT(uid) DO UPDATE SET
           bytes = bytes + excluded.bytes,
           created = min(created, excluded.created),
           metadata = json_set(metadata,
             '$.items', json_extract(metadata, '$.items') + 1,
             '$.last', max(json_extract(metadata, '$.last'), @created),
             '$.by_type.' || @data_type, coalesce(json_extract(metadata, '$.by_type.' || @data_type), 0) + 1)
         WHERE data_type = 'session'`,
      ),
      sessions: this.db.prepare<[], ItemRow>("SELECT * FROM items WHERE data_type = 'session'"),
      clear: this.db.prepare("DELETE FROM items"),
      count: this.db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM items"),
    };
  }

  static open(storage: string, opts: DataStoreOptions = {}): DataStore {
    return new DataStore(storage, opts);
  }

  /** Whether this instance holds the index lock (a rebuild then needs no other). */
  get holdsLock(): boolean {
    return this.lock !== null;
  }

  close(): void {
    if (this.db.open) this.db.close();
    this.lock?.release();
    this.lock = null;
  }

  /**
   * Indexes a file that is already under the storage root. The path must
   * resolve (symlinks followed) inside the root and its size must equal
   * `facts.bytes`. Idempotent: the same uid with the same file returns the
   * existing row (`existed: true`); the same uid with another file, or the
   * same file under another uid, is refused with "conflict". A file that
   * does not describe itself (no `X.meta.json`, not `volumes/{uid}.tif`) gets
   * a sidecar written beside it so a rebuild finds it again.
   */
  registerExternalFile(uid: string, filePath: string, facts: RegisterInput): RegisterResult {
    if (!isUid(uid)) throw new GentlyError("invalid_request", `uid must be a 21-character alphanumeric uid, got ${JSON.stringify(uid)}`, "uid");
    const parsed = RegisterFacts.safeParse(facts);
    if (!parsed.success) throw GentlyError.fromZod(parsed.error);
    const f = parsed.data;
    if (f.parent_uid === uid) throw new GentlyError("invalid_request", "an item cannot be its own parent", "parent_uid");
    const file = confineToStorage(this.realRoot, filePath);
    if (file.bytes !== f.bytes) {
      throw new GentlyError("invalid_request", `${filePath} has ${file.bytes} bytes, the registration says ${f.bytes}`, "bytes", {
        actual: file.bytes,
        expected: f.bytes,
      });
    }
    const record: ItemRecord = {
      uid,
      data_type: f.data_type,
      rel: file.rel,
      shape: f.shape,
      dtype: f.dtype,
      bytes: f.bytes,
      checksum: f.checksum,
      session_id: f.session_id,
      run_uid: f.run_uid,
      parent_uid: f.parent_uid,
      created: f.created ?? new Date().toISOString(),
      metadata: f.metadata,
    };
    return this.db
      .transaction((): RegisterResult => {
        const existing = this.stmt.byUid.get(uid);
        if (existing) {
          if (existing.path !== file.rel) {
            throw new GentlyError("conflict", `uid ${uid} is already registered for ${existing.path ?? "a session"}, not ${file.rel}`, "uid", {
              registered_path: existing.path === null ? null : path.join(this.root, existing.path),
            });
          }
          const stored = itemFromRow(existing, this.root);
          if (stored.bytes !== record.bytes || (stored.checksum && record.checksum && stored.checksum.hex !== record.checksum.hex)) {
            throw new GentlyError("conflict", `uid ${uid} is registered for ${file.rel} with other content (size or checksum)`, "uid");
          }
          return { item: stored, existed: true };
        }
        const holder = this.stmt.byPath.get(file.rel);
        if (holder) throw new GentlyError("conflict", `${file.rel} is already registered as uid ${holder.uid}`, "path", { uid: holder.uid });
        this.writeSidecarIfMissing(record, file.real);
        this.insert(record);
        return { item: this.get(uid)!, existed: false };
      })
      .immediate();
  }

  private writeSidecarIfMissing(record: ItemRecord, real: string): void {
    const sidecar = sidecarPathFor(real);
    if (record.rel === path.join(LAYOUT.volumes, volumeFileName(record.uid)) || existsSync(sidecar)) return;
    const body = DerivedWritten.parse({
      uid: record.uid,
      data_type: record.data_type,
      path: path.join(this.root, record.rel!),
      ...(record.parent_uid ? { parent_uid: record.parent_uid } : {}),
      ...(record.session_id ? { session_id: record.session_id } : {}),
      ...(record.run_uid ? { run_uid: record.run_uid } : {}),
      ...(record.shape ? { shape: record.shape } : {}),
      ...(record.dtype ? { dtype: record.dtype } : {}),
      ...(record.checksum ? { checksum: record.checksum } : {}),
      bytes: record.bytes,
      created: normalizeTime(record.created),
      metadata: record.metadata,
    });
    const tmp = path.join(path.dirname(sidecar), `.${path.basename(sidecar)}.tmp`);
    try {
      writeFileSync(tmp, JSON.stringify(body, null, 2) + "\n");
      renameSync(tmp, sidecar);
    } catch (err) {
      throw new GentlyError("not_writable", `cannot write ${sidecar}, which a rebuild needs to find this file: ${(err as Error).message}`, "path");
    }
  }

  /** Inserts one checked record and keeps its session row up to date; call inside a transaction. */
  private insert(r: ItemRecord): void {
    const created = normalizeTime(r.created);
    this.stmt.insert.run({
      uid: r.uid,
      data_type: r.data_type,
      path: r.rel,
      shape: r.shape ? JSON.stringify(r.shape) : null,
      dtype: r.dtype ?? null,
      bytes: r.bytes,
      checksum: r.checksum ? JSON.stringify(r.checksum) : null,
      session_id: r.session_id ?? null,
      run_uid: r.run_uid ?? null,
      parent_uid: r.parent_uid ?? null,
      created,
      metadata: JSON.stringify(r.metadata),
    });
    if (r.session_id) {
      this.stmt.upsertSession.run({ uid: sessionUid(r.session_id), bytes: r.bytes, session_id: r.session_id, created, data_type: r.data_type });
    }
  }

  /**
   * Inserts many records in one transaction, without file checks: for a
   * rebuild (files already read) and the benchmark. With `replace`, every
   * existing row goes first, so the index holds exactly these records.
   */
  importRecords(records: Iterable<ItemRecord>, opts: { replace?: boolean } = {}): number {
    return this.db
      .transaction(() => {
        if (opts.replace) this.stmt.clear.run();
        let n = 0;
        for (const r of records) {
          this.insert(r);
          n++;
        }
        return n;
      })
      .immediate();
  }

  get(uid: string): DataItem | null {
    const row = this.stmt.byUid.get(uid);
    return row ? itemFromRow(row, this.root) : null;
  }

  private require(uid: string): DataItem {
    if (!isUid(uid)) throw new GentlyError("invalid_request", `uid must be a 21-character alphanumeric uid`, "uid");
    const item = this.get(uid);
    if (!item) throw new GentlyError("not_found", `no item with uid ${uid}`, "uid");
    return item;
  }

  /** Items matching every given filter, newest first; session rows only when data_type is "session". */
  list(query: z.input<typeof ListRequest> = {}): DataItem[] {
    const parsed = ListRequest.safeParse(query);
    if (!parsed.success) throw GentlyError.fromZod(parsed.error);
    const q = parsed.data;
    const { sql, params } = listSql(q);
    let stmt = this.listStatements.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      this.listStatements.set(sql, stmt);
    }
    return (stmt.all(params) as ItemRow[]).map((row) => itemFromRow(row, this.root));
  }

  /** The item and its ancestors, oldest first; stops at a parent no row knows or at a loop. */
  lineage(uid: string): LineageReply {
    const start = this.require(uid);
    const chain = [start];
    const seen = new Set([start.uid as string]);
    let cycle = false;
    let missing: string | undefined;
    for (let cur = start; cur.parent_uid; ) {
      if (seen.has(cur.parent_uid)) {
        cycle = true;
        break;
      }
      const parent = this.get(cur.parent_uid);
      if (!parent) {
        missing = cur.parent_uid;
        break;
      }
      chain.push(parent);
      seen.add(parent.uid);
      cur = parent;
    }
    return { items: chain.reverse(), cycle, ...(missing ? { missing_parent_uid: missing as DataItem["uid"] } : {}) };
  }

  /** Items whose parent is this uid, oldest first. */
  children(uid: string): DataItem[] {
    this.require(uid);
    return this.stmt.children.all(uid).map((row) => itemFromRow(row, this.root));
  }

  /** Per session: item count, bytes, counts per data type, first and last item; newest session first. */
  sessions(): SessionSummary[] {
    return this.stmt.sessions
      .all()
      .map((row) => {
        const m = JSON.parse(row.metadata) as { items: number; last: string; by_type: Record<string, number> };
        return { session_id: row.session_id!, uid: row.uid, items: m.items, bytes: row.bytes, by_type: m.by_type, first: row.created, last: m.last };
      })
      .sort((a, b) => (a.last < b.last ? 1 : a.last > b.last ? -1 : 0)) as SessionSummary[];
  }

  /** Every row, oldest first (session rows included): for rebuild comparisons and verify. */
  all(): DataItem[] {
    return this.stmt.all.all().map((row) => itemFromRow(row, this.root));
  }

  /** Rows in the table, session rows included. */
  count(): number {
    return this.stmt.count.get()!.n;
  }

  /**
   * Drops every row and indexes the files again (volumes/ OME headers,
   * sidecars); reports counts, skipped files and the fields only events knew.
   * Refused while another process (the indexer) holds the index lock.
   */
  rebuild(opts: { onProgress?: (p: Progress) => void } = {}): Promise<RebuildReport> {
    return rebuildIndex(this, opts.onProgress);
  }

  /** Missing files, size and checksum mismatches, and files no row knows; changes nothing. */
  verify(opts: { checksums?: boolean; onProgress?: (p: Progress) => void } = {}): Promise<VerifyReport> {
    return verifyIndex(this, opts);
  }

  /** Takes the index lock for a whole-index operation unless this instance already holds it. */
  withLock<T>(holder: string, fn: () => Promise<T>): Promise<T> {
    if (this.lock) return fn();
    const lock = acquireIndexLock(this.root, holder);
    return fn().finally(() => lock.release());
  }
}

/** SQL of a list query: only the filters given, so each combination gets its own prepared statement and index. */
function listSql(q: ListQuery): { sql: string; params: Record<string, unknown> } {
  const where: string[] = [];
  const params: Record<string, unknown> = { limit: q.limit, offset: q.offset };
  if (q.session_id !== undefined) {
    where.push("session_id = @session_id");
    params.session_id = q.session_id;
  }
  if (q.data_type !== undefined) {
    where.push("data_type = @data_type");
    params.data_type = q.data_type;
  } else {
    where.push("data_type != 'session'");
  }
  if (q.run_uid !== undefined) {
    where.push("run_uid = @run_uid");
    params.run_uid = q.run_uid;
  }
  if (q.since !== undefined) {
    where.push("created >= @since");
    params.since = normalizeTime(q.since);
  }
  if (q.until !== undefined) {
    where.push("created < @until");
    params.until = normalizeTime(q.until);
  }
  return {
    sql: `SELECT * FROM items WHERE ${where.join(" AND ")} ORDER BY created DESC, rowid DESC LIMIT @limit OFFSET @offset`,
    params,
  };
}
