export { FatalConfigError } from "./errors";
export { ENV_VARIABLES, type EnvName, type EnvValue, type EnvVariable } from "./variables";
export { describeConfig, envValue, type ConfigRow, type ConfigSource } from "./read";
