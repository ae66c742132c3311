import type { ServerResponse } from "node:http";

/** Ask the browser to reconnect this soon after a drop. */
const RETRY_MS = 2_000;
/** A comment line this often keeps proxies and idle timers from closing the stream. */
const HEARTBEAT_MS = 15_000;
/** A browser this far behind is cut off; it reconnects and resumes from its last event id. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/** Live events (previews, device state) are skipped for a browser with more than this still queued: a slow page shows fewer frames, never late ones. */
const MAX_LIVE_BUFFERED_BYTES = 256 * 1024;

export interface SseEvent {
  event: string;
  id: string;
  data: unknown;
}

/** A Server-Sent Events response: framing, heartbeats and a bound on what a slow reader may queue. */
export class SseStream {
  private readonly heartbeat: NodeJS.Timeout;
  private closedFlag = false;

  constructor(private readonly res: ServerResponse, onClose: () => void) {
    res.writeHead(200, {
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-store",
      Connection: "keep-alive",
      "X-Accel-Buffering": "no",
    });
    res.write(`retry: ${RETRY_MS}\n\n`);
    this.heartbeat = setInterval(() => this.write(": ping\n\n"), HEARTBEAT_MS);
    res.on("close", () => {
      this.closedFlag = true;
      clearInterval(this.heartbeat);
      onClose();
    });
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  send(event: SseEvent): void {
    // JSON has no raw newlines, so the data is always one `data:` line.
    this.write(`id: ${event.id}\nevent: ${event.event}\ndata: ${JSON.stringify(event.data)}\n\n`);
  }

  /**
   * An event that is not replayed (no id, so the browser's Last-Event-ID
   * stays the stream position); `json` is the data already serialised, once
   * for every browser. Skipped while the browser is behind.
   */
  sendLive(event: string, json: string): void {
    if (this.closedFlag || this.res.writableLength > MAX_LIVE_BUFFERED_BYTES) return;
    this.res.write(`event: ${event}\ndata: ${json}\n\n`);
  }

  close(): void {
    if (!this.closedFlag) this.res.end();
  }

  private write(chunk: string): void {
    if (this.closedFlag) return;
    if (this.res.writableLength > MAX_BUFFERED_BYTES) {
      this.res.destroy();
      return;
    }
    this.res.write(chunk);
  }
}
