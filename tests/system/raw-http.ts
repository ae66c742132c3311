import net from "node:net";

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  /** the body as received (chunked bodies are not decoded), at most maxBytes */
  body: Buffer;
}

/**
 * One HTTP/1.1 request written byte for byte onto a socket: the request
 * target reaches the server exactly as given (fetch and http.request would
 * normalise '%2e%2e' or refuse odd characters first).
 */
export function rawHttp(
  port: number,
  target: string,
  opts: {
    method?: string;
    headers?: Record<string, string>;
    timeoutMs?: number;
    maxBytes?: number;
    /** resolve once the head is in, for a stream that does not end (events); a 4xx body is still read */
    streaming?: boolean;
  } = {},
): Promise<RawResponse> {
  const maxBytes = opts.maxBytes ?? 4 * 1024 * 1024;
  const head = [
    `${opts.method ?? "GET"} ${target} HTTP/1.1`,
    "Host: 127.0.0.1",
    "Connection: close",
    ...Object.entries(opts.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
    "",
    "",
  ].join("\r\n");
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    let received = 0;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer to ${opts.method ?? "GET"} ${target.slice(0, 200)} in ${opts.timeoutMs ?? 10_000} ms`));
    }, opts.timeoutMs ?? 10_000);
    const finish = () => {
      clearTimeout(timer);
      const all = Buffer.concat(chunks);
      const split = all.indexOf("\r\n\r\n");
      if (split < 0) return reject(new Error(`no HTTP answer to ${target.slice(0, 200)}: ${JSON.stringify(all.subarray(0, 200).toString())}`));
      const [statusLine, ...lines] = all.subarray(0, split).toString("latin1").split("\r\n");
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(":");
        if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? "")?.[1] ?? 0), headers, body: all.subarray(split + 4) });
    };
    socket.on("data", (chunk) => {
      chunks.push(chunk);
      received += chunk.length;
      // a stream that does not end (events, a big file) has said enough
      if (received >= maxBytes) socket.destroy();
      if (opts.streaming && /^HTTP\/1\.[01] 2/.test(Buffer.concat(chunks).subarray(0, 12).toString("latin1")) && Buffer.concat(chunks).includes("\r\n\r\n")) socket.destroy();
    });
    socket.on("close", finish);
    socket.on("error", () => undefined);
    socket.write(head);
  });
}
