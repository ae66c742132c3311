/**
 * Every failure a sink or reader reports is a SinkError with a stable `code`, so the writer service
 * can decide (quarantine, alert "disk full", refuse a plan) without parsing messages.
 */
export type SinkErrorCode =
  /** ENOSPC/EDQUOT from the OS, the planned file exceeds `maxBytes`, or the filesystem lacks the free space. */
  | "disk_full"
  /** EACCES/EPERM/EROFS: the directory cannot be written. */
  | "not_writable"
  /** The target directory (or tmpDir) does not exist. */
  | "no_directory"
  /** A file already exists at the final path; sinks never overwrite data. */
  | "exists"
  /** tmpDir and the final directory are on different filesystems, so rename could not be atomic. */
  | "cross_device"
  /** The volume metadata failed validation. */
  | "bad_meta"
  /** A plane had the wrong byte length. */
  | "bad_plane"
  /** More planes than planned were appended, or finalize() came before all planned planes. */
  | "plane_count"
  /** The call is not allowed in the sink's current state (e.g. appendPlane after finalize). */
  | "bad_state"
  /** The file is not a TIFF this library can read, or lacks OME-XML. */
  | "bad_file"
  /** Any other I/O failure (EIO, ...). */
  | "io";

export class SinkError extends Error {
  override readonly name = "SinkError";
  readonly code: SinkErrorCode;
  /** The OS errno code (e.g. "ENOSPC") when the error came from the filesystem. */
  readonly errno?: string;

  constructor(code: SinkErrorCode, message: string, options?: { cause?: unknown; errno?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    if (options?.errno !== undefined) this.errno = options.errno;
  }
}

const ERRNO_TO_CODE: Record<string, SinkErrorCode> = {
  ENOSPC: "disk_full",
  EDQUOT: "disk_full",
  EFBIG: "disk_full",
  EACCES: "not_writable",
  EPERM: "not_writable",
  EROFS: "not_writable",
  ENOENT: "no_directory",
  ENOTDIR: "no_directory",
  EEXIST: "exists",
  EXDEV: "cross_device",
};

/** Wraps an fs error into a SinkError, keeping errno and cause; SinkErrors pass through unchanged. */
export function toSinkError(err: unknown, doing: string): SinkError {
  if (err instanceof SinkError) return err;
  const errno = typeof err === "object" && err !== null && "code" in err ? String((err as { code: unknown }).code) : undefined;
  const code = (errno !== undefined && ERRNO_TO_CODE[errno]) || "io";
  const detail = err instanceof Error ? err.message : String(err);
  return new SinkError(code, `${doing}: ${detail}`, { cause: err, ...(errno !== undefined ? { errno } : {}) });
}
