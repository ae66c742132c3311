import path from "node:path";
import { envValue } from "@gently/config";
import { quarantineDirOf, volumesDirOf } from "@gently/storage";

/** The writer's own settings, on top of the common GentlyConfig. */
export interface WriterConfig {
  /** the storage root (GENTLY_STORAGE), absolute: volume.written names files relative to it too */
  storageDir: string;
  /** {storage}/volumes: finished files; partial files while writing */
  volumesDir: string;
  /** {storage}/volumes/quarantine: partial files of failed volumes, kept for inspection */
  quarantineDir: string;
  /** a volume fails when no frame (or end) arrives for this long */
  frameTimeoutMs: number;
  /** optional cap on the bytes under volumes/ (finished, partial and quarantined files) */
  quotaBytes?: number;
  /** free bytes a volume must leave on its filesystem (JetStream's store, index.sqlite and logs may share it) */
  reserveBytes: number;
  /** log progress every this many frames */
  progressEveryFrames: number;
  /** on SIGTERM, how long running acquisitions may still finish before they are failed (the process is killed at 15 s) */
  stopGraceMs: number;
}

export function loadWriterConfig(storage: string, env: NodeJS.ProcessEnv = process.env): WriterConfig {
  const storageDir = path.resolve(storage);
  return {
    storageDir,
    volumesDir: volumesDirOf(storageDir),
    quarantineDir: quarantineDirOf(storageDir),
    frameTimeoutMs: envValue("GENTLY_WRITER_FRAME_TIMEOUT_MS", env),
    quotaBytes: envValue("GENTLY_STORAGE_QUOTA_BYTES", env),
    reserveBytes: envValue("GENTLY_WRITER_RESERVE_BYTES", env),
    progressEveryFrames: envValue("GENTLY_WRITER_PROGRESS_FRAMES", env),
    stopGraceMs: envValue("GENTLY_WRITER_STOP_GRACE_MS", env),
  };
}
