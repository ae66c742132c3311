import { API_HTTP_ENV, httpGuardSettings, type HttpGuardSettings } from "@gently/http-guard";

/** The HTTP API's port the existing copilot calls. */
export const DEFAULT_API_PORT = 60610;

export interface ApiConfig {
  port: number;
  guard: HttpGuardSettings;
}

/** GENTLY_API_PORT (default 60610); GENTLY_API_HOST / _TOKEN / _ALLOWED_HOSTS as for every gently HTTP server. */
export function loadApiConfig(storage: string, env: NodeJS.ProcessEnv = process.env): ApiConfig {
  const raw = env.GENTLY_API_PORT;
  let port = DEFAULT_API_PORT;
  if (raw !== undefined && raw !== "") {
    port = Number(raw);
    if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`GENTLY_API_PORT must be a port number 0-65535, got '${raw}'`);
  }
  return { port, guard: httpGuardSettings(API_HTTP_ENV, storage, env) };
}
