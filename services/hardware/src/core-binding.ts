import path from "node:path";
import { Worker } from "node:worker_threads";
import koffi, { type LibraryHandle } from "koffi";
import { FatalConfigError } from "@gently/bus";
import { GentlyError } from "@gently/protocol";

/**
 * The one binding of native/include/gently_core.h. Whichever library
 * implements the ABI (the simulator or the MMCore shim) is loaded here and
 * nowhere else. Every call that may wait on a device runs off the event loop
 * with a deadline, so requests, keepalives and lease renewals are served
 * however long a stage takes: moves, waits, presets, property and camera sets
 * and sequence starts on the core's workers (core-worker.mjs: each reads its
 * failing call's gc_last_error on its own thread, so the message is that
 * call's), gc_snap and gc_pop_next on koffi's async threads. Only reads of the
 * core's state run on the event loop (the ABI's threading contract lets them
 * run beside a worker's call).
 */

const GC_OK = 0;
const GC_E_TIMEOUT = -6;
const GC_E_NOT_RUNNING = -5;
const GC_ERROR_NAMES: Record<number, string> = {
  [-1]: "GC_E_ARGUMENT",
  [-2]: "GC_E_DEVICE",
  [-3]: "GC_E_BUFFER",
  [-4]: "GC_E_BUSY",
  [-5]: "GC_E_NOT_RUNNING",
  [-6]: "GC_E_TIMEOUT",
  [-7]: "GC_E_OVERFLOW",
  [-8]: "GC_E_RANGE",
};
const GC_E_RANGE = -8;

/**
 * A failing call as an error: the device refusing the value itself
 * (GC_E_RANGE: past its travel, not a value it takes) is the request's fault,
 * limit_violation (the Microscope names the request's field); anything else
 * is the device's, device_error.
 */
function callError(rc: number, what: string, message: string): GentlyError {
  return new GentlyError(rc === GC_E_RANGE ? "limit_violation" : "device_error", `${what}: ${message}`, undefined, { rc, code: GC_ERROR_NAMES[rc] ?? "unknown" });
}
const TEXT_CAP = 64 * 1024;

// koffi type names are process-global: declared once, at module load.
koffi.opaque("gc_core");
export const GcFrameMeta = koffi.struct("gc_frame_meta", {
  seq: "uint64_t",
  timestamp_us: "uint64_t",
  width: "uint32_t",
  height: "uint32_t",
  bytes_per_pixel: "uint32_t",
  camera_index: "int32_t",
  piezo_um: "double",
  galvo_deg: "double",
  x_um: "double",
  y_um: "double",
});

export interface FrameMeta {
  seq: number;
  timestamp_us: number;
  width: number;
  height: number;
  bytes_per_pixel: number;
  camera_index: number;
  piezo_um: number;
  galvo_deg: number;
  x_um: number;
  y_um: number;
}

export interface CoreSweep {
  num_slices: number;
  piezo_start_um: number;
  piezo_step_um: number;
  galvo_start_deg: number;
  galvo_step_deg: number;
}

export interface DeviceList {
  cameras: string[];
  xy_stages: string[];
  stages: string[];
  scanners: string[];
  config_groups: Record<string, string[]>;
  other: string[];
  /** what the core is; absent from libraries older than this field */
  core?: CoreInfo;
}

export interface CoreInfo {
  /** e.g. "MMCore version 11.1.1" or "gently-sim 1.1" */
  version: string;
  /** Micro-Manager's Device API version; null where there is none (the sim) */
  device_api: number | null;
  /** the core sequences piezo and galvo itself (an ASI Tiger); else sweeps are stepped slice by slice */
  hardware_sweep: boolean;
}

/** Where pixels go: a Buffer, or a raw address (a ring slot in shared memory). */
export type FrameTarget = Buffer | bigint;

export type PopResult =
  | { status: "frame"; meta: FrameMeta; dropped: number }
  | { status: "timeout"; dropped: number }
  | { status: "finished"; dropped: number };

export type NativeFunction = ReturnType<LibraryHandle["func"]>;
type Fn = NativeFunction;

interface Bindings {
  lib: LibraryHandle;
  abiVersion: Fn;
  open: Fn;
  close: Fn;
  lastError: Fn;
  listDevices: Fn;
  listProperties: Fn;
  getProperty: Fn;
  getXY: Fn;
  getPosition: Fn;
  getScanner: Fn;
  getConfig: Fn;
  getExposure: Fn;
  getRoi: Fn;
  frameBytes: Fn;
  snap: Fn;
  stopSequence: Fn;
  isSequenceRunning: Fn;
  popNext: Fn;
}

const loaded = new Map<string, Bindings>();

function bind(libraryPath: string): Bindings {
  const cached = loaded.get(libraryPath);
  if (cached) return cached;
  const lib = koffi.load(libraryPath);
  const f = (proto: string) => lib.func(proto);
  const b: Bindings = {
    lib,
    abiVersion: f("int gc_abi_version(void)"),
    open: f("gc_core *gc_open(const char *config, _Out_ char *err, size_t cap)"),
    close: f("void gc_close(gc_core *core)"),
    lastError: f("const char *gc_last_error(gc_core *core)"),
    listDevices: f("int gc_list_devices(gc_core *core, _Out_ char *out, size_t cap)"),
    listProperties: f("int gc_list_properties(gc_core *core, const char *device, _Out_ char *out, size_t cap)"),
    getProperty: f("int gc_get_property(gc_core *core, const char *device, const char *prop, _Out_ char *out, size_t cap)"),
    getXY: f("int gc_get_xy_um(gc_core *core, const char *xy_stage, _Out_ double *x_um, _Out_ double *y_um)"),
    getPosition: f("int gc_get_position_um(gc_core *core, const char *stage, _Out_ double *pos_um)"),
    getScanner: f("int gc_get_scanner_deg(gc_core *core, const char *scanner, _Out_ double *a_deg, _Out_ double *b_deg)"),
    getConfig: f("int gc_get_config(gc_core *core, const char *group, _Out_ char *out, size_t cap)"),
    getExposure: f("int gc_get_exposure_ms(gc_core *core, const char *camera, _Out_ double *exposure_ms)"),
    getRoi: f("int gc_get_roi(gc_core *core, const char *camera, _Out_ int *x, _Out_ int *y, _Out_ int *width, _Out_ int *height)"),
    frameBytes: f("int gc_frame_bytes(gc_core *core, const char *camera, _Out_ size_t *bytes)"),
    snap: f("int gc_snap(gc_core *core, const char *camera, void *buf, size_t cap, _Out_ gc_frame_meta *meta)"),
    stopSequence: f("int gc_stop_sequence(gc_core *core)"),
    isSequenceRunning: f("int gc_is_sequence_running(gc_core *core)"),
    popNext: f(
      "int gc_pop_next(gc_core *core, void *buf, size_t cap, _Out_ gc_frame_meta *meta, uint32_t timeout_ms, _Out_ uint64_t *dropped)",
    ),
  };
  loaded.set(libraryPath, b);
  return b;
}

function callAsync(fn: Fn, ...args: unknown[]): Promise<number> {
  return new Promise((resolve, reject) => {
    fn.async(...args, (err: unknown, rc: number) => (err ? reject(err) : resolve(rc)));
  });
}

/** How long a device call may take before the request fails (a stage's longest move, a preset's slowest device). */
export const DEFAULT_CALL_TIMEOUT_MS = 60_000;

/** Calls the core's workers run (core-worker.mjs). */
type DeviceCall = "setProperty" | "setXY" | "setPosition" | "setScanner" | "waitForDevice" | "setConfig" | "setExposure" | "setRoi" | "startSequence";
interface WorkerReply {
  /** the call's return code; null when the call could not be made */
  rc: number | null;
  /** gc_last_error read on the worker's thread right after a failing call */
  message: string | null;
}

/**
 * Threads that run device calls, each one call at a time. Several, so that
 * switching the lasers off never waits behind a stage that takes seconds to
 * arrive: a call goes to the worker with the fewest calls in flight.
 */
class CoreWorkers {
  private static readonly SIZE = 3;
  private readonly workers: { worker: Worker; inFlight: number }[] = [];
  private readonly pending = new Map<number, (reply: WorkerReply) => void>();
  private nextId = 0;

  constructor(libraryPath: string, core: bigint) {
    for (let i = 0; i < CoreWorkers.SIZE; i++) {
      const worker = new Worker(new URL("./core-worker.mjs", import.meta.url), { workerData: { libraryPath, core: String(core) } });
      // Pending calls keep the process alive through their deadline timers, not the threads.
      worker.unref();
      const slot = { worker, inFlight: 0 };
      worker.on("message", (reply: WorkerReply & { id: number }) => {
        slot.inFlight--;
        const done = this.pending.get(reply.id);
        this.pending.delete(reply.id);
        done?.(reply);
      });
      worker.on("error", (err) => {
        // A dead worker answers nothing more: every waiting call fails now, later ones go past their deadline.
        for (const done of this.pending.values()) done({ rc: null, message: `core worker failed: ${err.message}` });
        this.pending.clear();
      });
      this.workers.push(slot);
    }
  }

  call(name: DeviceCall, args: unknown[]): Promise<WorkerReply> {
    const slot = this.workers.reduce((a, b) => (b.inFlight < a.inFlight ? b : a));
    const id = this.nextId++;
    slot.inFlight++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      slot.worker.postMessage({ id, name, args });
    });
  }

  terminate(): void {
    for (const { worker } of this.workers) void worker.terminate();
  }
}

function textOf(buf: Buffer): string {
  const end = buf.indexOf(0);
  return buf.toString("utf8", 0, end < 0 ? buf.length : end);
}

function targetLength(target: FrameTarget, cap?: number): number {
  if (typeof target === "bigint") {
    if (cap === undefined) throw new GentlyError("internal", "a raw frame address needs its capacity");
    return cap;
  }
  return Math.min(cap ?? target.length, target.length);
}

/**
 * An open microscope core. Every failing call throws GentlyError with the
 * core's own message: limit_violation where the device refused the value
 * (GC_E_RANGE), device_error otherwise.
 */
export class Core {
  private handle: bigint | null;

  private readonly workers: CoreWorkers;

  private constructor(
    private readonly b: Bindings,
    handle: bigint,
    /** absolute path of the library this core came from */
    readonly libraryPath: string,
    /** deadline of one device call on a worker thread */
    readonly callTimeoutMs: number,
  ) {
    this.handle = handle;
    this.workers = new CoreWorkers(libraryPath, koffi.address(handle) as bigint);
  }

  /**
   * Loads the library (once per path) and opens a core with its config file (sim JSON, MMCore .cfg, or none).
   * A library that does not load or speaks another ABI, or a config the core refuses, throws a
   * FatalConfigError: restarting cannot fix it.
   */
  static open(libraryPath: string, configFile?: string, callTimeoutMs = DEFAULT_CALL_TIMEOUT_MS): Core {
    const absolute = path.resolve(libraryPath);
    let b: Bindings;
    try {
      b = bind(absolute);
    } catch (err) {
      throw new FatalConfigError(`cannot load core library ${absolute} (GENTLY_CORE_LIBRARY): ${(err as Error).message}`);
    }
    const abi = b.abiVersion() as number;
    if (abi !== 1) throw new FatalConfigError(`core library ${absolute} has ABI version ${abi}, this service speaks 1`);
    const err = Buffer.alloc(4096);
    const handle = b.open(configFile ?? null, err, err.length) as bigint | null;
    if (!handle) throw new FatalConfigError(`gc_open(${configFile ?? "defaults"}) of ${absolute} failed: ${textOf(err) || "no reason given"}`);
    return new Core(b, handle, absolute, callTimeoutMs);
  }

  /** The gc_core pointer, for sim-only entry points bound to the same library (sim-truth.ts). */
  get pointer(): bigint {
    return this.core;
  }

  private get core(): bigint {
    if (this.handle === null) throw new GentlyError("device_error", "the core is closed");
    return this.handle;
  }

  private check(rc: number, what: string): number {
    if (rc >= GC_OK) return rc;
    const message = (this.handle !== null ? (this.b.lastError(this.handle) as string | null) : null) || "no message";
    throw callError(rc, what, message);
  }

  /**
   * One device call on the core's workers, failing with the core's own
   * message for it; past the deadline the request fails with `timeout` (the
   * worker's call may still end later).
   */
  private async onWorker(what: string, name: DeviceCall, ...args: unknown[]): Promise<void> {
    if (this.handle === null) throw new GentlyError("device_error", "the core is closed");
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new GentlyError("timeout", `${what}: the core did not answer within ${this.callTimeoutMs} ms`)),
        this.callTimeoutMs,
      );
    });
    try {
      const { rc, message } = await Promise.race([this.workers.call(name, args), deadline]);
      if (rc === null) throw new GentlyError("device_error", `${what}: ${message}`);
      if (rc < GC_OK) throw callError(rc, what, message || "no message");
    } finally {
      clearTimeout(timer);
    }
  }

  private text(what: string, call: (out: Buffer) => number): string {
    const out = Buffer.alloc(TEXT_CAP);
    this.check(call(out), what);
    return textOf(out);
  }

  close(): void {
    if (this.handle === null) return;
    this.workers.terminate();
    this.b.close(this.handle);
    this.handle = null;
  }

  listDevices(): DeviceList {
    return JSON.parse(this.text("list devices", (out) => this.b.listDevices(this.core, out, out.length))) as DeviceList;
  }

  listProperties(device: string): string[] {
    return JSON.parse(this.text(`list properties of ${device}`, (out) => this.b.listProperties(this.core, device, out, out.length))) as string[];
  }

  getProperty(device: string, prop: string): string {
    return this.text(`get ${device}.${prop}`, (out) => this.b.getProperty(this.core, device, prop, out, out.length));
  }

  async setProperty(device: string, prop: string, value: string): Promise<void> {
    await this.onWorker(`set ${device}.${prop} = ${value}`, "setProperty", device, prop, value);
  }

  getXY(stage: string): { x_um: number; y_um: number } {
    const x = [0];
    const y = [0];
    this.check(this.b.getXY(this.core, stage, x, y), `get position of ${stage}`);
    return { x_um: x[0], y_um: y[0] };
  }

  async setXY(stage: string, x_um: number, y_um: number): Promise<void> {
    await this.onWorker(`move ${stage} to (${x_um}, ${y_um}) µm`, "setXY", stage, x_um, y_um);
  }

  getPosition(stage: string): number {
    const pos = [0];
    this.check(this.b.getPosition(this.core, stage, pos), `get position of ${stage}`);
    return pos[0];
  }

  async setPosition(stage: string, pos_um: number): Promise<void> {
    await this.onWorker(`move ${stage} to ${pos_um} µm`, "setPosition", stage, pos_um);
  }

  getScanner(scanner: string): { a_deg: number; b_deg: number } {
    const a = [0];
    const b = [0];
    this.check(this.b.getScanner(this.core, scanner, a, b), `get angles of ${scanner}`);
    return { a_deg: a[0], b_deg: b[0] };
  }

  async setScanner(scanner: string, a_deg: number, b_deg: number): Promise<void> {
    await this.onWorker(`set ${scanner} to (${a_deg}, ${b_deg})°`, "setScanner", scanner, a_deg, b_deg);
  }

  async waitForDevice(device: string): Promise<void> {
    await this.onWorker(`wait for ${device}`, "waitForDevice", device);
  }

  async setConfig(group: string, preset: string): Promise<void> {
    await this.onWorker(`set ${group} preset "${preset}"`, "setConfig", group, preset);
  }

  getConfig(group: string): string {
    return this.text(`get ${group} preset`, (out) => this.b.getConfig(this.core, group, out, out.length));
  }

  async setExposure(camera: string, exposure_ms: number): Promise<void> {
    await this.onWorker(`set ${camera} exposure ${exposure_ms} ms`, "setExposure", camera, exposure_ms);
  }

  getExposure(camera: string): number {
    const ms = [0];
    this.check(this.b.getExposure(this.core, camera, ms), `get ${camera} exposure`);
    return ms[0];
  }

  async setRoi(camera: string, roi: { x: number; y: number; width: number; height: number }): Promise<void> {
    await this.onWorker(`set ${camera} ROI`, "setRoi", camera, roi.x, roi.y, roi.width, roi.height);
  }

  getRoi(camera: string): { x: number; y: number; width: number; height: number } {
    const x = [0];
    const y = [0];
    const w = [0];
    const h = [0];
    this.check(this.b.getRoi(this.core, camera, x, y, w, h), `get ${camera} ROI`);
    return { x: x[0], y: y[0], width: w[0], height: h[0] };
  }

  frameBytes(camera: string): number {
    const bytes = [0];
    this.check(this.b.frameBytes(this.core, camera, bytes), `frame size of ${camera}`);
    return Number(bytes[0]);
  }

  /** Exposes one frame into target (a worker thread waits, not the event loop). */
  async snap(camera: string, target: FrameTarget, cap?: number): Promise<FrameMeta> {
    const meta = {} as FrameMeta;
    const rc = await callAsync(this.b.snap, this.core, camera, target, targetLength(target, cap), meta);
    this.check(rc, `snap ${camera}`);
    return normaliseMeta(meta);
  }

  async startSequence(cameras: readonly string[], countPerCamera: number, sweep?: CoreSweep): Promise<void> {
    await this.onWorker(
      `start sequence of ${countPerCamera} frames on ${cameras.join(", ")}`,
      "startSequence",
      cameras.join(","),
      countPerCamera,
      sweep ?? null,
    );
  }

  stopSequence(): void {
    this.check(this.b.stopSequence(this.core), "stop sequence");
  }

  isSequenceRunning(): boolean {
    return this.check(this.b.isSequenceRunning(this.core), "is sequence running") === 1;
  }

  /**
   * Copies the next frame of the running sequence into target (pixels go
   * straight from the core into it). A timeout and the end of the sequence
   * are results, not errors; dropped counts frames the core lost.
   */
  async popNext(target: FrameTarget, cap: number | undefined, timeoutMs: number): Promise<PopResult> {
    const meta = {} as FrameMeta;
    const dropped = [0];
    const rc = await callAsync(this.b.popNext, this.core, target, targetLength(target, cap), meta, timeoutMs, dropped);
    const lost = Number(dropped[0]);
    if (rc === GC_E_TIMEOUT) return { status: "timeout", dropped: lost };
    if (rc === GC_E_NOT_RUNNING) return { status: "finished", dropped: lost };
    this.check(rc, "pop next frame");
    return { status: "frame", meta: normaliseMeta(meta), dropped: lost };
  }
}

function normaliseMeta(meta: FrameMeta): FrameMeta {
  // uint64 fields arrive as number or bigint depending on their size.
  return { ...meta, seq: Number(meta.seq), timestamp_us: Number(meta.timestamp_us) };
}
