import path from "node:path";
import type { Logger } from "@gently/bus";
import type { DataStore } from "@gently/datastore";
import { DerivedWritten, GentlyError, subjects, VolumeFailed, VolumeWritten } from "@gently/protocol";
import type { z } from "zod";

/**
 * Applies one GENTLY_DATA message to the index. Returns normally when the
 * message is done with (indexed, already indexed, or permanently refused),
 * so it is acked; throws only for failures worth a retry (the index could
 * not be written), so it is redelivered.
 */
export function applyDataEvent(store: DataStore, logger: Logger, subject: string, raw: unknown): void {
  switch (subject) {
    case subjects.volume.written:
      return register(store, logger, subject, VolumeWritten, raw);
    case subjects.derived.written:
      return register(store, logger, subject, DerivedWritten, raw);
    case subjects.volume.failed: {
      const body = VolumeFailed.safeParse(raw);
      // Nothing to index: a failed volume is not good data (its partial file, if kept, is in quarantine).
      logger.warn({ uid: body.success ? body.data.uid : undefined, code: body.success ? body.data.code : undefined }, "volume failed; not indexed");
      return;
    }
    default:
      logger.debug({ subject }, "not a data event the index keeps");
  }
}

function register(store: DataStore, logger: Logger, subject: string, schema: typeof VolumeWritten | typeof DerivedWritten, raw: unknown): void {
  const parsed = (schema as z.ZodType<VolumeWritten | DerivedWritten>).safeParse(raw);
  if (!parsed.success) {
    logger.error({ subject, err: GentlyError.fromZod(parsed.error).message }, "dropping a data event that fails its schema");
    return;
  }
  const body = parsed.data;
  // The writer's host may see the storage elsewhere (D:\gently\storage on the Windows
  // instrument PC): its storage-relative path, joined to this host's root, finds the file.
  const file = "storage_path" in body && body.storage_path ? path.join(store.root, ...body.storage_path.split("/")) : body.path;
  try {
    const { existed } = store.registerExternalFile(body.uid, file, body);
    logger.info({ uid: body.uid, data_type: body.data_type, session_id: body.session_id, existed }, existed ? "already indexed" : "indexed");
  } catch (err) {
    if (err instanceof GentlyError && err.code !== "internal") {
      // Refusals (file missing or outside storage, uid conflict) do not heal by retrying.
      logger.error({ uid: body.uid, path: body.path, code: err.code, field: err.field, err: err.message }, "data event refused; not indexed");
      return;
    }
    throw err;
  }
}
