import type Database from "better-sqlite3";

/** Bumped when the table changes; an index of another version is rebuilt from the files. */
export const SCHEMA_VERSION = 1;

/**
 * One table of items. `path` is relative to the storage root (the root may
 * move; the index stays valid). JSON columns: shape, checksum, metadata.
 * Each index serves one query of DataStore; rowid breaks ties of `created`
 * so the indexes also give the order.
 */
const DDL = `
CREATE TABLE IF NOT EXISTS items (
  uid        TEXT PRIMARY KEY NOT NULL,
  data_type  TEXT NOT NULL,
  path       TEXT UNIQUE,
  shape      TEXT,
  dtype      TEXT,
  bytes      INTEGER NOT NULL,
  checksum   TEXT,
  session_id TEXT,
  run_uid    TEXT,
  parent_uid TEXT,
  created    TEXT NOT NULL,
  metadata   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS items_by_session ON items(session_id, created);
CREATE INDEX IF NOT EXISTS items_by_type    ON items(data_type, created);
CREATE INDEX IF NOT EXISTS items_by_run     ON items(run_uid, created);
CREATE INDEX IF NOT EXISTS items_by_parent  ON items(parent_uid, created);
CREATE INDEX IF NOT EXISTS items_by_created ON items(created);
`;

export function createSchema(db: Database.Database): void {
  db.exec(DDL);
  db.pragma(`user_version = ${SCHEMA_VERSION}`);
}

export function dropSchema(db: Database.Database): void {
  db.exec("DROP TABLE IF EXISTS items");
}

export function schemaVersion(db: Database.Database): number {
  return db.pragma("user_version", { simple: true }) as number;
}
