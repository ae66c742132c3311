import path from "node:path";
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

/**
 * Room JetStream needs to go on working on a disk the volumes have filled: new message blocks of
 * the system's streams and of the lease bucket (a few MiB each), their index files, and the
 * index.sqlite WAL, with a wide margin. 256 MiB.
 */
export const DEFAULT_RESERVE_BYTES = 256 * 1024 * 1024;

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number | undefined): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got '${raw}'`);
  return value;
}

export function loadWriterConfig(storage: string, env: NodeJS.ProcessEnv = process.env): WriterConfig {
  const storageDir = path.resolve(storage);
  return {
    storageDir,
    volumesDir: volumesDirOf(storageDir),
    quarantineDir: quarantineDirOf(storageDir),
    frameTimeoutMs: positiveInt(env, "GENTLY_WRITER_FRAME_TIMEOUT_MS", 30_000)!,
    quotaBytes: positiveInt(env, "GENTLY_STORAGE_QUOTA_BYTES", undefined),
    reserveBytes: env.GENTLY_WRITER_RESERVE_BYTES?.trim() === "0" ? 0 : positiveInt(env, "GENTLY_WRITER_RESERVE_BYTES", DEFAULT_RESERVE_BYTES)!,
    progressEveryFrames: positiveInt(env, "GENTLY_WRITER_PROGRESS_FRAMES", 100)!,
    stopGraceMs: Math.min(positiveInt(env, "GENTLY_WRITER_STOP_GRACE_MS", 8_000)!, 12_000),
  };
}
