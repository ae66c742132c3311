import { request as httpRequest, type ClientRequest } from "node:http";

/** Test support: an SSE client for /api/events. */
export interface SseMessage {
  event: string;
  /** absent for live events (device.state, device.preview) */
  id?: string;
  /** bridged events carry subject, seq and body; live events are the message itself */
  data: { subject?: string; seq?: number; body?: { uid?: string; done?: number } } & Record<string, unknown>;
}

/** A minimal EventSource for tests: raw HTTP, the SSE framing parsed by hand. */
export function openSse(base: string, lastEventId?: string) {
  const messages: SseMessage[] = [];
  let status = 0;
  let req: ClientRequest;
  const opened = new Promise<void>((resolve, reject) => {
    const { hostname, port } = new URL(base);
    req = httpRequest(
      { hostname, port, path: "/api/events", headers: lastEventId ? { "Last-Event-ID": lastEventId } : {} },
      (res) => {
        status = res.statusCode ?? 0;
        let buffer = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          buffer += chunk;
          let end: number;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const fields = Object.fromEntries(
              block
                .split("\n")
                .filter((l) => l && !l.startsWith(":"))
                .map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1).trimStart()]),
            );
            if (fields.event) messages.push({ id: fields.id, event: fields.event, data: JSON.parse(fields.data) });
          }
        });
        resolve();
      },
    );
    req.on("error", reject);
    req.end();
  });
  return {
    messages,
    opened,
    get status() {
      return status;
    },
    /** the id a browser would send back on reconnect */
    get lastId() {
      return messages.at(-1)?.id;
    },
    close: () => req.destroy(),
  };
}
