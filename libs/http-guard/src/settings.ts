import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import path from "node:path";
import { FatalConfigError } from "@gently/config";

/** Where and how an HTTP server of gently may be reached. */
export interface HttpGuardSettings {
  /** interface the server listens on (default 127.0.0.1) */
  host: string;
  /** secret every request must carry; null when the server listens on loopback only */
  token: string | null;
  /** Host header names accepted besides loopback names, the bound address and this machine's names and addresses */
  allowedHosts: string[];
  /** the cookie that carries the token after the first request (per server: cookies ignore ports) */
  cookieName: string;
}

/** Which environment variables configure one HTTP server (viz: GENTLY_HTTP_*, the API: GENTLY_API_*). */
export interface HttpGuardEnv {
  /** short name of the server, e.g. "viz" or "api": names the token file and the cookie */
  name: string;
  /** variable naming the bind address, e.g. GENTLY_HTTP_HOST */
  hostVar: string;
  /** variable holding a fixed token, e.g. GENTLY_HTTP_TOKEN (else one is generated under {storage}/secrets) */
  tokenVar: string;
  /** variable listing further accepted Host names, comma-separated, e.g. GENTLY_HTTP_ALLOWED_HOSTS */
  allowedHostsVar: string;
}

export const VIZ_HTTP_ENV: HttpGuardEnv = {
  name: "viz",
  hostVar: "GENTLY_HTTP_HOST",
  tokenVar: "GENTLY_HTTP_TOKEN",
  allowedHostsVar: "GENTLY_HTTP_ALLOWED_HOSTS",
};

export const API_HTTP_ENV: HttpGuardEnv = {
  name: "api",
  hostVar: "GENTLY_API_HOST",
  tokenVar: "GENTLY_API_TOKEN",
  allowedHostsVar: "GENTLY_API_ALLOWED_HOSTS",
};

export const DEFAULT_HTTP_HOST = "127.0.0.1";
const MIN_TOKEN_LENGTH = 16;
const HOST_NAME = /^[a-z0-9]([a-z0-9-]{0,62})(\.[a-z0-9]([a-z0-9-]{0,62}))*\.?$/i;

/** True for addresses only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "").toLowerCase();
  return bare === "localhost" || bare === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}

/** The file a server's generated token is kept in (0600; directory 0700). */
export function httpTokenPath(storage: string, name: string): string {
  return path.join(storage, "secrets", `${name}-http-token`);
}

/**
 * Resolves bind address, token and Host names from the environment (a bad
 * value is a FatalConfigError: restarting cannot fix it). A server
 * bound beyond loopback always requires a token: the variable's, else the one
 * kept under {storage}/secrets (generated on first use), so restarts and the
 * CLI agree on it.
 */
export function httpGuardSettings(vars: HttpGuardEnv, storage: string, env: NodeJS.ProcessEnv = process.env): HttpGuardSettings {
  const host = (env[vars.hostVar] ?? "").trim() || DEFAULT_HTTP_HOST;
  checkHost(vars.hostVar, host);
  const allowedHosts = (env[vars.allowedHostsVar] ?? "")
    .split(",")
    .map((name) => name.trim().toLowerCase())
    .filter(Boolean);
  for (const name of allowedHosts) checkHost(vars.allowedHostsVar, name);
  const cookieName = `gently_${vars.name}_token`;
  if (isLoopbackHost(host)) return { host, token: null, allowedHosts, cookieName };
  const fixed = env[vars.tokenVar];
  if (fixed !== undefined && fixed !== "") {
    if (fixed.length < MIN_TOKEN_LENGTH || !/^[A-Za-z0-9_-]+$/.test(fixed)) {
      throw new FatalConfigError(
        `${vars.tokenVar} must be at least ${MIN_TOKEN_LENGTH} characters of A-Z a-z 0-9 _ -, got ${fixed.length} characters`,
      );
    }
    return { host, token: fixed, allowedHosts, cookieName };
  }
  return { host, token: ensureHttpToken(storage, vars.name), allowedHosts, cookieName };
}

/** Reads the server's stored token, generating it (atomically, private to the owner) when missing. */
function ensureHttpToken(storage: string, name: string): string {
  const existing = readHttpToken(storage, name);
  if (existing) return existing;
  const file = httpTokenPath(storage, name);
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  chmodSync(path.dirname(file), 0o700);
  const token = randomBytes(24).toString("base64url");
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, token + "\n", { mode: 0o600 });
  renameSync(tmp, file);
  return token;
}

function readHttpToken(storage: string, name: string): string | undefined {
  const file = httpTokenPath(storage, name);
  if (!existsSync(file)) return undefined;
  return readFileSync(file, "utf8").trim() || undefined;
}

/** The URL to open: loopback or the bound address, with the token when one is required. */
export function readyUrl(settings: HttpGuardSettings, port: number, hostName?: string): string {
  const wildcard = settings.host === "0.0.0.0" || settings.host === "::";
  const name = hostName ?? (wildcard || isLoopbackHost(settings.host) ? "localhost" : settings.host);
  const shown = isIP(name) === 6 ? `[${name}]` : name;
  const query = settings.token ? `?token=${settings.token}` : "";
  return `http://${shown}:${port}/${query}`;
}

function checkHost(variable: string, host: string): void {
  if (isIP(host.replace(/^\[|\]$/g, "")) === 0 && !HOST_NAME.test(host)) {
    throw new FatalConfigError(`${variable} must be an IP address or a host name, got '${host}'`);
  }
}
