export {
  API_HTTP_ENV,
  DEFAULT_HTTP_HOST,
  VIZ_HTTP_ENV,
  ensureHttpToken,
  httpGuardSettings,
  httpTokenPath,
  isLoopbackHost,
  readHttpToken,
  readyUrl,
  type HttpGuardEnv,
  type HttpGuardSettings,
} from "./settings";
export { HttpGuard, sendRefusal } from "./guard";
export { ConnectionCap, capFromEnv } from "./connection-cap";
