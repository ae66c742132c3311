import { ENV_VARIABLES, envValue } from "@gently/config";
import { API_HTTP_ENV, httpGuardSettings, type HttpGuardSettings } from "@gently/http-guard";

/** The HTTP API's port the existing copilot calls. */
export const DEFAULT_API_PORT = ENV_VARIABLES.GENTLY_API_PORT.fallback;

export interface ApiConfig {
  port: number;
  guard: HttpGuardSettings;
}

/** GENTLY_API_PORT (default 60610); GENTLY_API_HOST / _TOKEN / _ALLOWED_HOSTS as for every gently HTTP server. */
export function loadApiConfig(storage: string, env: NodeJS.ProcessEnv = process.env): ApiConfig {
  return { port: envValue("GENTLY_API_PORT", env), guard: httpGuardSettings(API_HTTP_ENV, storage, env) };
}
