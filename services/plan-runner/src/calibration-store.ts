import type { JetStreamClient } from "@nats-io/jetstream";
import { publishDurable } from "@gently/bus";
import { writeDerivedItem } from "@gently/derived";
import { DerivedWritten, newUid, subjects } from "@gently/protocol";

/**
 * Stores a calibration record as a derived item: `{storage}/derived/{uid}.json`
 * written durably with its sidecar, then announced on gently.derived.written
 * (GENTLY_DATA, deduplicated by uid) so the DataStore indexes it.
 */
export async function storeCalibration(
  js: JetStreamClient,
  storage: string,
  record: Record<string, unknown>,
  owner: { session_id: string; run_uid: string },
): Promise<{ uid: string; path: string }> {
  const uid = newUid();
  const written = await writeDerivedItem(
    storage,
    {
      uid,
      ext: "json",
      data_type: "calibration",
      session_id: owner.session_id,
      run_uid: owner.run_uid as DerivedWritten["run_uid"],
      // small facts for listings; the file holds the points
      metadata: Object.fromEntries(Object.entries(record).filter(([, v]) => typeof v === "number" || typeof v === "string")),
    },
    new TextEncoder().encode(JSON.stringify({ uid, ...record }, null, 2) + "\n"),
  );
  await publishDurable(js, subjects.derived.written, DerivedWritten, written, uid);
  return { uid, path: written.path };
}
