export * from "./errors";
export * from "./uid";
export * from "./endpoint";
export * from "./subjects";
export * from "./services";
export * from "./common";
export * from "./frames";
export * from "./volume";
