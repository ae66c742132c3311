export { startTestNats, type TestNats } from "./nats";
export { spawnTs, spawnService, waitFor, isAlive, type ServiceProcess } from "./process";
export { tempStorage } from "./storage";
export { startTestCluster, type TestCluster, type ClusterNode } from "./cluster";
export { connectAccount, startAccountNats, type AccountNats } from "./accounts";
export { startTestSystem, SMALL_SAMPLE, type TestSystem } from "./system";
export { injectFaultEnv } from "./fault-injection";
export { prepareWine, spawnWindowsTs, windowsPath, windowsTestsMissing, WINE_NODE_DIR, type Wine } from "./wine";
export { geotiffPlanes } from "./tiff";
