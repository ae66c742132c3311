// The core's worker: runs the gently_core.h calls that may wait on a device
// (moves, waits, presets, property and camera sets, sequence start) one after
// another on this thread, and reads each failing call's gc_last_error on the
// same thread, so the message is that call's own (gently_core.h, "Threads").
// Plain JavaScript: a worker thread gets no TypeScript loader.
import { parentPort, workerData } from "node:worker_threads";
import koffi from "koffi";

const lib = koffi.load(workerData.libraryPath);
const core = BigInt(workerData.core);
// The core's address as an integer: a pointer cannot cross threads, its value can.
const sweep = koffi.struct({
  num_slices: "uint32_t",
  piezo_start_um: "double",
  piezo_step_um: "double",
  galvo_start_deg: "double",
  galvo_step_deg: "double",
});
const calls = {
  setProperty: lib.func("gc_set_property", "int", ["uintptr_t", "const char *", "const char *", "const char *"]),
  setXY: lib.func("gc_set_xy_um", "int", ["uintptr_t", "const char *", "double", "double"]),
  setPosition: lib.func("gc_set_position_um", "int", ["uintptr_t", "const char *", "double"]),
  setScanner: lib.func("gc_set_scanner_deg", "int", ["uintptr_t", "const char *", "double", "double"]),
  waitForDevice: lib.func("gc_wait_for_device", "int", ["uintptr_t", "const char *"]),
  setConfig: lib.func("gc_set_config", "int", ["uintptr_t", "const char *", "const char *"]),
  setExposure: lib.func("gc_set_exposure_ms", "int", ["uintptr_t", "const char *", "double"]),
  setRoi: lib.func("gc_set_roi", "int", ["uintptr_t", "const char *", "int", "int", "int", "int"]),
  startSequence: lib.func("gc_start_sequence", "int", ["uintptr_t", "const char *", "uint32_t", koffi.pointer(sweep)]),
};
const lastError = lib.func("gc_last_error", "const char *", ["uintptr_t"]);

parentPort.on("message", ({ id, name, args }) => {
  try {
    const rc = calls[name](core, ...args);
    parentPort.postMessage({ id, rc, message: rc < 0 ? lastError(core) : null });
  } catch (err) {
    parentPort.postMessage({ id, rc: null, message: `${name}: ${err instanceof Error ? err.message : String(err)}` });
  }
});
