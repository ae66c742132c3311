export { createLogger, type Logger } from "./logger";
export { loadConfig, natsUrlOf, type GentlyConfig } from "./config";
export { encodeJson, decodeJson } from "./codec";
export { connectBus, type ConnectOptions } from "./connection";
export {
  startMicroService,
  handle,
  instanceAnswers,
  toGentlyError,
  type EndpointHandler,
  type MicroServiceOptions,
  type RequestContext,
} from "./serve";
export { call, errorOf, type CallOptions } from "./request";
export { subscribeValidated, publishValidated, type SubscribeOptions } from "./subscribe";
export {
  ensureStream,
  jetStreamOf,
  publishDurable,
  consumeDurable,
  type StreamSpec,
  type DurableConsumerSpec,
  type DurablePublishOptions,
} from "./jetstream";
export { EXIT_FATAL_CONFIG, FatalConfigError, onStopSignal, runProcess, STOP_LINE, STOP_ON_STDIN_ENV, type ProcessContext, type RunningService } from "./lifecycle";
export { accountSecretPath, readAccountPassword, readCredentials, ensureCredentials, passwordEnvironment, type Credentials } from "./credentials";
export { Liveness, processLiveness } from "./liveness";
export { BusOutages, busOutages } from "./outages";
export { readBySubject, readStored, type ReadStoredOptions, type StoredMessage } from "./stream-read";
export { retryWithBackoff, type RetryOptions } from "./retry";
export { isConsumerNotFound, isNoResponders, isRequestTimeout, isStreamNameInUse, isStreamNotFound, isTransientNatsError } from "./nats-errors";
