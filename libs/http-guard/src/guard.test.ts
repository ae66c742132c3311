import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConnectionCap, HttpGuard, VIZ_HTTP_ENV, httpGuardSettings, httpTokenPath, readyUrl } from "./index";

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(port: number, target: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: target, headers }, (res) => {
      let body = "";
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

async function serve(guard: HttpGuard, cap?: ConnectionCap): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    if (!guard.admit(req, res)) return;
    if (req.url?.startsWith("/stream")) {
      if (!cap?.openFor(res)) return;
      res.writeHead(200, { "Content-Type": "text/event-stream" });
      res.write(": open\n\n");
      return;
    }
    res.end(`ok ${req.url}`);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

describe("http guard settings", () => {
  const storage = mkdtempSync(path.join(tmpdir(), "gently-guard-"));
  afterAll(() => rmSync(storage, { recursive: true, force: true }));

  it("binds to 127.0.0.1 without a token by default", () => {
    const settings = httpGuardSettings(VIZ_HTTP_ENV, storage, {});
    expect(settings).toMatchObject({ host: "127.0.0.1", token: null });
    expect(readyUrl(settings, 8080)).toBe("http://localhost:8080/");
  });

  it("bound beyond loopback, generates a private token once and reuses it", () => {
    const first = httpGuardSettings(VIZ_HTTP_ENV, storage, { GENTLY_HTTP_HOST: "0.0.0.0" });
    const second = httpGuardSettings(VIZ_HTTP_ENV, storage, { GENTLY_HTTP_HOST: "0.0.0.0" });
    expect(first.token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(second.token).toBe(first.token);
    expect(statSync(httpTokenPath(storage, "viz")).mode & 0o777).toBe(0o600);
    expect(readyUrl(first, 8080, "scope-pc")).toBe(`http://scope-pc:8080/?token=${first.token}`);
  });

  it("refuses a bad host or a short token naming the variable and the value", () => {
    expect(() => httpGuardSettings(VIZ_HTTP_ENV, storage, { GENTLY_HTTP_HOST: "a b" })).toThrow(/GENTLY_HTTP_HOST must be an IP address or a host name, got 'a b'/);
    expect(() => httpGuardSettings(VIZ_HTTP_ENV, storage, { GENTLY_HTTP_HOST: "0.0.0.0", GENTLY_HTTP_TOKEN: "short" })).toThrow(
      /GENTLY_HTTP_TOKEN must be at least 16 characters/,
    );
  });
});

describe("http guard on a real server", () => {
  const token = "test-token-0123456789abcdef";
  let local: { server: Server; port: number };
  let exposed: { server: Server; port: number };
  const cap = new ConnectionCap(2, "SSE streams (GENTLY_SSE_MAX)");

  beforeAll(async () => {
    local = await serve(new HttpGuard({ host: "127.0.0.1", token: null, allowedHosts: [], cookieName: "gently_viz_token" }), cap);
    exposed = await serve(new HttpGuard({ host: "0.0.0.0", token, allowedHosts: ["scope.lab"], cookieName: "gently_viz_token" }));
  });
  afterAll(() => {
    local.server.closeAllConnections();
    local.server.close();
    exposed.server.close();
  });

  it("on loopback answers localhost names and refuses any other Host (DNS rebinding)", async () => {
    expect((await get(local.port, "/", { Host: `localhost:${local.port}` })).status).toBe(200);
    expect((await get(local.port, "/", { Host: `[::1]:${local.port}` })).status).toBe(200);
    const rebound = await get(local.port, "/", { Host: `attacker.example:${local.port}` });
    expect(rebound.status).toBe(403);
    expect(JSON.parse(rebound.body).error).toMatchObject({ code: "forbidden", field: "host" });
    expect(JSON.parse(rebound.body).error.message).toContain("attacker.example");
  });

  it("beyond loopback refuses requests without the right token and accepts bearer, query and cookie", async () => {
    const none = await get(exposed.port, "/", { Host: "scope.lab:8080" });
    expect(none.status).toBe(401);
    expect(JSON.parse(none.body).error).toMatchObject({ code: "unauthorized", field: "token" });
    expect((await get(exposed.port, "/?token=wrong-token-xxxxxxxxxx", { Host: "scope.lab" })).status).toBe(401);
    expect((await get(exposed.port, "/", { Host: "scope.lab", Authorization: `Bearer ${token}` })).status).toBe(200);
    const viaQuery = await get(exposed.port, `/api/x?z=3&token=${token}`, { Host: "scope.lab" });
    expect(viaQuery.status).toBe(200);
    expect(viaQuery.body).toBe("ok /api/x?z=3");
    expect(String(viaQuery.headers["set-cookie"])).toContain(`gently_viz_token=${token}; HttpOnly; SameSite=Strict`);
    expect((await get(exposed.port, "/api/x", { Host: "scope.lab", Cookie: `other=1; gently_viz_token=${token}` })).status).toBe(200);
    expect((await get(exposed.port, "/", { Host: "evil.example", Authorization: `Bearer ${token}` })).status).toBe(403);
  });

  it("caps long-lived connections with a 503 naming the limit and frees a slot when one closes", async () => {
    const streams = [0, 1].map(
      () =>
        new Promise<() => void>((resolve) => {
          const req = request({ host: "127.0.0.1", port: local.port, path: "/stream", headers: { Host: "localhost" } }, (res) => resolve(() => res.destroy()));
          req.end();
        }),
    );
    const closers = await Promise.all(streams);
    expect(cap.open).toBe(2);
    const refused = await get(local.port, "/stream", { Host: "localhost" });
    expect(refused.status).toBe(503);
    expect(refused.headers["retry-after"]).toBe("5");
    expect(JSON.parse(refused.body).error.message).toBe("SSE streams (GENTLY_SSE_MAX): 2 open, the limit is 2; close one or try later");
    closers[0]();
    await expect.poll(() => cap.open).toBe(1);
    closers[1]();
    await expect.poll(() => cap.open).toBe(0);
  });
});
