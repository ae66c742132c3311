import { GentlyError } from "@gently/protocol";

/**
 * Where a browser's event stream stands: the last sequence delivered from
 * each JetStream stream it follows. It travels as the SSE event id
 * ("<data seq>-<runs seq>"), so the Last-Event-ID a reconnecting browser
 * sends names the exact point to resume both streams from.
 */
export interface EventCursor {
  data: number;
  runs: number;
}

const CURSOR_PATTERN = /^(\d{1,15})-(\d{1,15})$/;

export function formatCursor(cursor: EventCursor): string {
  return `${cursor.data}-${cursor.runs}`;
}

export function parseCursor(text: string, field = "Last-Event-ID"): EventCursor {
  const m = CURSOR_PATTERN.exec(text.trim());
  if (!m) throw new GentlyError("invalid_request", `${field}: must be "<data seq>-<runs seq>" as sent in an event id`, field);
  return { data: Number(m[1]), runs: Number(m[2]) };
}
