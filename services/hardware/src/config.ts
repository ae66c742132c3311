import path from "node:path";
import { natsUrlOf, type GentlyConfig } from "@gently/bus";
import { nativeLibraryPath } from "@gently/native";
import { defaultRingPath } from "@gently/ring";
import { envValue } from "@gently/config";

/** Everything the hardware service reads from its environment, with defaults for one machine and the simulator. */
export interface HardwareConfig {
  /** the gently_core.h library to load (GENTLY_CORE_LIBRARY) */
  coreLibrary: string;
  /** passed to gc_open: sim JSON or MMCore .cfg (GENTLY_CONFIG) */
  coreConfig?: string;
  /** JSON file overriding the default limits (GENTLY_LIMITS) */
  limitsFile?: string;
  /** JSON file mapping device roles to core labels over the diSPIM's (GENTLY_ROLES) */
  rolesFile?: string;
  /** deadline of one device call: a move, a wait, a preset (GENTLY_CORE_CALL_TIMEOUT_MS) */
  callTimeoutMs: number;
  /** shared-memory ring: a file on Linux, a mapping name on Windows (GENTLY_RING_PATH) */
  ringPath: string;
  ringSlots: number;
  /** how long to wait for a reader to free a slot (GENTLY_RING_TIMEOUT_MS) */
  ringTimeoutMs: number;
  /** how long a frame may be late beyond its exposure (GENTLY_FRAME_TIMEOUT_MS) */
  frameTimeoutMs: number;
  /** how long the writer has to answer frames.<acq>.begin (GENTLY_WRITER_TIMEOUT_MS) */
  writerTimeoutMs: number;
}

/**
 * The ring's default name carries the NATS port: one system per NATS, so
 * parallel systems (and test runs) on one machine never share a ring.
 */
function ringPathOf(config: GentlyConfig): string {
  const first = natsUrlOf(config).split(",")[0];
  const port = /:(\d+)\/?$/.exec(first)?.[1];
  return defaultRingPath(port ?? process.pid);
}

export function loadHardwareConfig(config: GentlyConfig, env: NodeJS.ProcessEnv = process.env): HardwareConfig {
  const coreLibrary = envValue("GENTLY_CORE_LIBRARY", env);
  return {
    coreLibrary: coreLibrary ? path.resolve(coreLibrary) : nativeLibraryPath("gently_sim"),
    coreConfig: config.configFile,
    limitsFile: envValue("GENTLY_LIMITS", env),
    rolesFile: envValue("GENTLY_ROLES", env),
    callTimeoutMs: envValue("GENTLY_CORE_CALL_TIMEOUT_MS", env),
    ringPath: envValue("GENTLY_RING_PATH", env) ?? ringPathOf(config),
    ringSlots: envValue("GENTLY_RING_SLOTS", env),
    ringTimeoutMs: envValue("GENTLY_RING_TIMEOUT_MS", env),
    frameTimeoutMs: envValue("GENTLY_FRAME_TIMEOUT_MS", env),
    writerTimeoutMs: envValue("GENTLY_WRITER_TIMEOUT_MS", env),
  };
}
