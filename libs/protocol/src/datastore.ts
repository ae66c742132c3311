import { z } from "zod";
import { Dtype, SessionId } from "./common";
import { DataType } from "./data";
import { endpoint } from "./endpoint";
import { subjects } from "./subjects";
import { Uid } from "./uid";
import { Checksum } from "./volume";

const Shape = z.array(z.number().int().min(1)).min(1).max(5);

/**
 * One row of the DataStore: a file under the storage root (or, for
 * data_type "session", the implicit record of a session). `path` is
 * absolute; null only for session rows.
 */
export const DataItem = z.object({
  uid: Uid,
  data_type: DataType,
  path: z.string().nullable(),
  shape: Shape.nullable(),
  dtype: Dtype.nullable(),
  /** file size; for a session row the total of its items */
  bytes: z.number().int().min(0),
  checksum: Checksum.nullable(),
  session_id: SessionId.nullable(),
  run_uid: Uid.nullable(),
  parent_uid: Uid.nullable(),
  /** ISO-8601 UTC with milliseconds; for a session row its earliest item */
  created: z.string().datetime(),
  metadata: z.record(z.string(), z.unknown()),
});
export type DataItem = z.infer<typeof DataItem>;

/**
 * What is known about a file when it is registered. VolumeWritten and
 * DerivedWritten bodies are both valid here (their uid and path are taken
 * separately).
 */
export const RegisterFacts = z.object({
  data_type: DataType.exclude(["session"]),
  bytes: z.number().int().min(0),
  shape: Shape.optional(),
  dtype: Dtype.optional(),
  checksum: Checksum.optional(),
  session_id: SessionId.optional(),
  run_uid: Uid.optional(),
  parent_uid: Uid.optional(),
  /** defaults to the time of registration */
  created: z.string().datetime().optional(),
  metadata: z.record(z.string(), z.unknown()).default({}),
});
export type RegisterFacts = z.input<typeof RegisterFacts>;

export const RegisterRequest = RegisterFacts.extend({
  uid: Uid,
  /** absolute, or relative to the storage root; must resolve (symlinks followed) inside it */
  path: z.string().min(1).max(4096),
});
export type RegisterRequest = z.input<typeof RegisterRequest>;

export const RegisterReply = z.object({
  item: DataItem,
  /** true when this uid was already registered with the same file (nothing changed) */
  existed: z.boolean(),
});

export const UidRequest = z.object({ uid: Uid });

export const ListRequest = z.object({
  session_id: SessionId.optional(),
  /** session rows are listed only when asked for with data_type "session" */
  data_type: DataType.optional(),
  run_uid: Uid.optional(),
  /** created at or after */
  since: z.string().datetime().optional(),
  /** created before */
  until: z.string().datetime().optional(),
  limit: z.number().int().min(1).max(1000).default(100),
  offset: z.number().int().min(0).default(0),
});
export type ListRequest = z.input<typeof ListRequest>;

export const ItemsReply = z.object({ items: z.array(DataItem) });

export const LineageReply = z.object({
  /** oldest ancestor first, the asked-for item last */
  items: z.array(DataItem),
  /** a parent uid that no row knows (not indexed yet, or never), where the walk stopped */
  missing_parent_uid: Uid.optional(),
  /** the parent chain loops back on itself; the walk stopped at the repeat */
  cycle: z.boolean(),
});
export type LineageReply = z.infer<typeof LineageReply>;

export const SessionSummary = z.object({
  session_id: SessionId,
  /** uid of the session's own row */
  uid: Uid,
  items: z.number().int().min(0),
  bytes: z.number().int().min(0),
  /** items per data type */
  by_type: z.record(z.string(), z.number().int().min(0)),
  first: z.string().datetime(),
  last: z.string().datetime(),
});
export type SessionSummary = z.infer<typeof SessionSummary>;

export const SessionsReply = z.object({ sessions: z.array(SessionSummary) });

export const datastore = {
  get: endpoint("get", subjects.datastore.get, UidRequest, DataItem, "one indexed item by uid"),
  list: endpoint("list", subjects.datastore.list, ListRequest, ItemsReply, "items by session, type, run and time, newest first"),
  lineage: endpoint("lineage", subjects.datastore.lineage, UidRequest, LineageReply, "an item and its ancestors, oldest first"),
  children: endpoint("children", subjects.datastore.children, UidRequest, ItemsReply, "items derived directly from an item, oldest first"),
  sessions: endpoint("sessions", subjects.datastore.sessions, z.object({}), SessionsReply, "item counts and bytes per session, newest first"),
  register: endpoint(
    "register",
    subjects.datastore.register,
    RegisterRequest,
    RegisterReply,
    "index a file already under the storage root (idempotent per uid and file)",
  ),
} as const;
