export {
  API_HTTP_ENV,
  DEFAULT_HTTP_HOST,
  VIZ_HTTP_ENV,
  httpGuardSettings,
  httpTokenPath,
  readyUrl,
  type HttpGuardEnv,
  type HttpGuardSettings,
} from "./settings";
export { HttpGuard } from "./guard";
export { ConnectionCap } from "./connection-cap";
