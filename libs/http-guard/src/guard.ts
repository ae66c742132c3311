import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { hostname, networkInterfaces } from "node:os";
import { GentlyError } from "@gently/protocol";
import { isLoopbackHost, type HttpGuardSettings } from "./settings";

/**
 * Admission of every request to a gently HTTP server: the Host header must
 * name this server (a DNS-rebinding page sends its own domain), and when the
 * server listens beyond loopback the request must carry the token, as
 * `Authorization: Bearer`, as `?token=` (which also sets the cookie, so a
 * page opened once by its ready URL keeps working) or as the cookie.
 */
export class HttpGuard {
  private readonly hostNames: Set<string>;
  private readonly tokenDigest: Buffer | null;

  constructor(readonly settings: HttpGuardSettings) {
    this.hostNames = new Set(["localhost", "127.0.0.1", "::1", ...settings.allowedHosts]);
    if (!isLoopbackHost(settings.host)) {
      if (settings.host !== "0.0.0.0" && settings.host !== "::") this.hostNames.add(bare(settings.host));
      this.hostNames.add(hostname().toLowerCase());
      for (const addresses of Object.values(networkInterfaces())) {
        for (const address of addresses ?? []) this.hostNames.add(address.address.toLowerCase());
      }
    }
    this.tokenDigest = settings.token === null ? null : digest(settings.token);
  }

  /** True when the request may proceed; otherwise its refusal (403 wrong Host, 401 no or wrong token) has been sent. */
  admit(req: IncomingMessage, res: ServerResponse): boolean {
    const refusal = this.check(req, res);
    if (!refusal) return true;
    sendRefusal(res, refusal);
    return false;
  }

  /** The refusal of a request, or null; sets the token cookie when the token came in the query. */
  check(req: IncomingMessage, res: ServerResponse): GentlyError | null {
    const hostHeader = req.headers.host;
    const name = hostHeader === undefined ? undefined : hostOnly(hostHeader);
    if (name === undefined || !this.hostNames.has(name)) {
      return new GentlyError(
        "forbidden",
        `host: '${hostHeader ?? ""}' is not a name of this server (allowed: ${[...this.hostNames].join(", ")}; add names with the allowed-hosts variable)`,
        "host",
      );
    }
    if (this.tokenDigest === null) return null;
    const fromQuery = queryToken(req.url);
    const presented = bearerToken(req.headers.authorization) ?? fromQuery ?? cookieToken(req.headers.cookie, this.settings.cookieName);
    if (presented === undefined) {
      return new GentlyError("unauthorized", "token: this server listens beyond localhost and needs its token (open the URL `gently viewer` prints)", "token");
    }
    if (!timingSafeEqual(digest(presented), this.tokenDigest)) {
      return new GentlyError("unauthorized", "token: the token does not match this server's", "token");
    }
    if (fromQuery !== undefined) {
      res.setHeader("Set-Cookie", `${this.settings.cookieName}=${presented}; HttpOnly; SameSite=Strict; Path=/`);
      // the token stays out of what the page's requests send elsewhere
      res.setHeader("Referrer-Policy", "no-referrer");
      // the token is the guard's parameter: routes never see it (they refuse parameters they do not know)
      req.url = withoutToken(req.url ?? "/");
    }
    return null;
  }
}

/** Sends a GentlyError as the JSON error body with its HTTP status. */
export function sendRefusal(res: ServerResponse, error: GentlyError, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(error.toBody());
  res.writeHead(error.status, {
    ...headers,
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(text),
    "Cache-Control": "no-store",
  });
  res.end(text);
}

function digest(token: string): Buffer {
  return createHash("sha256").update(token).digest();
}

function bare(host: string): string {
  return host.replace(/^\[|\]$/g, "").toLowerCase();
}

/** "Example.org:8080" → "example.org", "[::1]:8080" → "::1"; undefined when malformed. */
function hostOnly(header: string): string | undefined {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(:\d{1,5})?$/.exec(header.trim());
  return match ? bare(match[1]).replace(/\.$/, "") : undefined;
}

function bearerToken(header: string | undefined): string | undefined {
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  return match ? match[1] : undefined;
}

function queryToken(target: string | undefined): string | undefined {
  const query = target?.split("?")[1];
  if (!query) return undefined;
  return new URLSearchParams(query).get("token") ?? undefined;
}

function withoutToken(target: string): string {
  const [pathname, query = ""] = target.split("?", 2);
  const params = new URLSearchParams(query);
  params.delete("token");
  const rest = params.toString();
  return rest ? `${pathname}?${rest}` : pathname!;
}

function cookieToken(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const [key, ...value] = part.trim().split("=");
    if (key === name) return value.join("=");
  }
  return undefined;
}
