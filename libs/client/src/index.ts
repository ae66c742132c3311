export { connectNats, defaultNatsUrl, type ClientOptions } from "./connect";
export { systemStatus, type SystemStatus, type ServiceHealth } from "./status";
