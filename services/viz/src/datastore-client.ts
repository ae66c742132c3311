import type { NatsConnection } from "@nats-io/transport-node";
import { call } from "@gently/bus";
import { datastore, GentlyError, type DataItem, type ListRequest } from "@gently/protocol";

/** The indexer answers from SQLite in milliseconds; a viewer should not wait long for a fallback. */
const DATASTORE_TIMEOUT_MS = 2_000;

function isUnreachable(err: unknown): boolean {
  return err instanceof GentlyError && (err.code === "unavailable" || err.code === "timeout");
}

/** The indexed item, or null when the indexer does not know it (yet) or does not answer. */
export async function findItem(nc: NatsConnection, uid: string): Promise<DataItem | null> {
  try {
    return await call(nc, datastore.get, { uid }, { timeoutMs: DATASTORE_TIMEOUT_MS });
  } catch (err) {
    if (isUnreachable(err) || (err instanceof GentlyError && err.code === "not_found")) return null;
    throw err;
  }
}

/** Images and volumes, newest first, as the DataStore lists them. */
export async function listVolumes(
  nc: NatsConnection,
  filter: { session_id?: string; since?: string; limit: number },
): Promise<DataItem[]> {
  const page = async (data_type: "image" | "volume") =>
    (await call(nc, datastore.list, { ...filter, data_type } satisfies ListRequest, { timeoutMs: DATASTORE_TIMEOUT_MS })).items;
  try {
    const [images, volumes] = await Promise.all([page("image"), page("volume")]);
    return [...images, ...volumes].sort((a, b) => b.created.localeCompare(a.created)).slice(0, filter.limit);
  } catch (err) {
    throw unreachableAsUnavailable(err);
  }
}

/** Items derived directly from `uid`, oldest first. */
export async function childrenOf(nc: NatsConnection, uid: string): Promise<DataItem[]> {
  try {
    return (await call(nc, datastore.children, { uid }, { timeoutMs: DATASTORE_TIMEOUT_MS })).items;
  } catch (err) {
    if (err instanceof GentlyError && err.code === "not_found") return [];
    throw unreachableAsUnavailable(err);
  }
}

function unreachableAsUnavailable(err: unknown): unknown {
  if (!isUnreachable(err)) return err;
  return new GentlyError("unavailable", "the DataStore (indexer service) does not answer; try again when it runs");
}
