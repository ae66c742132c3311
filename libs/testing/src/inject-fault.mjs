// Loaded into a service process by tests (NODE_OPTIONS="--import=<this file>"), never by
// production code: on SIGUSR2 the process it names in GENTLY_INJECT_INTO (a path suffix of the
// entry point, e.g. "services/hardware/src/main.ts") fails the way GENTLY_INJECT_FAULT says:
// "exception" (uncaught, thrown from a timer) or "rejection" (an unhandled promise rejection).
const target = process.env.GENTLY_INJECT_INTO;
if (target && process.argv.some((arg) => arg.endsWith(target))) {
  process.on("SIGUSR2", () => {
    const kind = process.env.GENTLY_INJECT_FAULT ?? "exception";
    setImmediate(() => {
      if (kind === "rejection") void Promise.reject(new Error("injected fault: unhandled rejection"));
      else throw new Error("injected fault: uncaught exception");
    });
  });
}
