import type { Logger } from "@gently/bus";
import { readOmeMetadata, scanLeftovers } from "@gently/ome-tiff";
import { isUid, SessionId, type VolumeFailed } from "@gently/protocol";
import type { Announcer } from "./announce";
import { quarantineFile } from "./quarantine";
import { ABSENT } from "./volume-meta";

export const RESTARTED_REASON = "writer restarted mid-volume";

/** Who a partial file belonged to, from the OME-XML its sink put on disk at open; empty if unreadable. */
async function ownerOf(file: string, logger: Logger): Promise<Pick<VolumeFailed, "session_id" | "run_uid">> {
  try {
    const meta = (await readOmeMetadata(file)).meta;
    if (!meta) return {};
    const session = SessionId.safeParse(meta.session_id);
    return {
      ...(session.success ? { session_id: session.data } : {}),
      ...(meta.run_uid !== ABSENT && isUid(meta.run_uid) ? { run_uid: meta.run_uid } : {}),
    };
  } catch (err) {
    logger.warn({ file, err: String(err) }, "partial file has no readable metadata");
    return {};
  }
}

/**
 * Partial files left by a writer that was killed mid-volume: the frames that
 * never reached them are gone from the ring's point of view (the hardware has
 * timed out or reset it), so each is quarantined and announced as failed; none
 * is completed. Run before serving, so no partial here belongs to a live sink.
 */
export async function recoverLeftovers(opts: {
  volumesDir: string;
  quarantineDir: string;
  announcer: Announcer;
  logger: Logger;
}): Promise<number> {
  const leftovers = await scanLeftovers(opts.volumesDir);
  for (const left of leftovers) {
    const owner = await ownerOf(left.path, opts.logger);
    const quarantinedPath = await quarantineFile(left.path, opts.quarantineDir, left.finalName);
    opts.logger.warn({ uid: left.uid, bytes: left.bytes, quarantined_path: quarantinedPath }, RESTARTED_REASON);
    if (!isUid(left.uid)) continue; // not a volume of this system: quarantined, nothing to announce
    await opts.announcer.failed({
      uid: left.uid,
      ...owner,
      reason: RESTARTED_REASON,
      code: "unavailable",
      quarantined_path: quarantinedPath,
      failed: new Date().toISOString(),
    });
  }
  return leftovers.length;
}
