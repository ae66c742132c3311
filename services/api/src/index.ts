export { startApiServer, type ApiServer, type ApiServerOptions } from "./api-server";
export { loadApiConfig, DEFAULT_API_PORT, type ApiConfig } from "./config";
