export { NatsServerProcess, freePort, waitForPort, type NatsServerOptions } from "./nats-server";
export { SupervisedChild, DEFAULT_RESTART_POLICY, type ChildSpec, type RestartPolicy } from "./child";
export { REPO_ROOT, serviceEntry, selectedServices, nodeArgsFor } from "./system";
export { SupervisedNatsServer } from "./supervised-nats";
