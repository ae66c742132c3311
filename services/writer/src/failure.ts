import { SinkError, type SinkErrorCode } from "@gently/ome-tiff";
import { GentlyError, type ErrorCode } from "@gently/protocol";

/** Why a volume could not be written: the code and reason of its volume.failed. */
export interface Failure {
  code: ErrorCode;
  reason: string;
}

const SINK_CODES: Record<SinkErrorCode, ErrorCode> = {
  disk_full: "disk_full",
  not_writable: "not_writable",
  // volumes/ vanished under the writer: it cannot write there
  no_directory: "not_writable",
  exists: "conflict",
  cross_device: "internal",
  bad_meta: "invalid_request",
  bad_plane: "invalid_request",
  plane_count: "internal",
  bad_state: "internal",
  bad_file: "internal",
  io: "internal",
};

/** Any thrown value as a Failure; file-system errors keep their meaning (disk_full, not_writable). */
export function failureOf(err: unknown, doing: string): Failure {
  if (err instanceof SinkError) return { code: SINK_CODES[err.code], reason: `${doing}: ${err.message}` };
  if (err instanceof GentlyError) return { code: err.code as ErrorCode, reason: `${doing}: ${err.message}` };
  return { code: "internal", reason: `${doing}: ${err instanceof Error ? err.message : String(err)}` };
}

export function toGentlyError(failure: Failure, field?: string): GentlyError {
  return new GentlyError(failure.code, failure.reason, field);
}
