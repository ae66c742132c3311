import path from "node:path";
import koffi, { type LibraryHandle } from "koffi";
import { FatalConfigError } from "@gently/bus";
import { GentlyError } from "@gently/protocol";

/**
 * The one binding of native/include/gently_core.h. Whichever library
 * implements the ABI (the simulator or the MMCore shim) is loaded here and
 * nowhere else. Every call that may wait on a device (moves, waits, presets,
 * property sets, camera settings, sequence start, gc_snap, gc_pop_next) runs
 * on koffi's worker threads with a deadline, so the event loop keeps serving
 * requests, keepalives and lease renewals however long a stage takes. Only
 * reads of the core's state run on the event loop (the ABI's threading
 * contract lets them run beside a worker's call).
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
};
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
export const GcSweep = koffi.struct("gc_sweep", {
  num_slices: "uint32_t",
  piezo_start_um: "double",
  piezo_step_um: "double",
  galvo_start_deg: "double",
  galvo_step_deg: "double",
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
  setProperty: Fn;
  getXY: Fn;
  setXY: Fn;
  getPosition: Fn;
  setPosition: Fn;
  getScanner: Fn;
  setScanner: Fn;
  waitForDevice: Fn;
  setConfig: Fn;
  getConfig: Fn;
  setExposure: Fn;
  getExposure: Fn;
  setRoi: Fn;
  getRoi: Fn;
  frameBytes: Fn;
  snap: Fn;
  startSequence: Fn;
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
    setProperty: f("int gc_set_property(gc_core *core, const char *device, const char *prop, const char *value)"),
    getXY: f("int gc_get_xy_um(gc_core *core, const char *xy_stage, _Out_ double *x_um, _Out_ double *y_um)"),
    setXY: f("int gc_set_xy_um(gc_core *core, const char *xy_stage, double x_um, double y_um)"),
    getPosition: f("int gc_get_position_um(gc_core *core, const char *stage, _Out_ double *pos_um)"),
    setPosition: f("int gc_set_position_um(gc_core *core, const char *stage, double pos_um)"),
    getScanner: f("int gc_get_scanner_deg(gc_core *core, const char *scanner, _Out_ double *a_deg, _Out_ double *b_deg)"),
    setScanner: f("int gc_set_scanner_deg(gc_core *core, const char *scanner, double a_deg, double b_deg)"),
    waitForDevice: f("int gc_wait_for_device(gc_core *core, const char *device)"),
    setConfig: f("int gc_set_config(gc_core *core, const char *group, const char *preset)"),
    getConfig: f("int gc_get_config(gc_core *core, const char *group, _Out_ char *out, size_t cap)"),
    setExposure: f("int gc_set_exposure_ms(gc_core *core, const char *camera, double exposure_ms)"),
    getExposure: f("int gc_get_exposure_ms(gc_core *core, const char *camera, _Out_ double *exposure_ms)"),
    setRoi: f("int gc_set_roi(gc_core *core, const char *camera, int x, int y, int width, int height)"),
    getRoi: f("int gc_get_roi(gc_core *core, const char *camera, _Out_ int *x, _Out_ int *y, _Out_ int *width, _Out_ int *height)"),
    frameBytes: f("int gc_frame_bytes(gc_core *core, const char *camera, _Out_ size_t *bytes)"),
    snap: f("int gc_snap(gc_core *core, const char *camera, void *buf, size_t cap, _Out_ gc_frame_meta *meta)"),
    startSequence: f("int gc_start_sequence(gc_core *core, const char *cameras, uint32_t count, const gc_sweep *sweep)"),
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

/** An open microscope core. Every failing call throws GentlyError("device_error", <the core's own message>). */
export class Core {
  private handle: bigint | null;

  private constructor(
    private readonly b: Bindings,
    handle: bigint,
    /** absolute path of the library this core came from */
    readonly libraryPath: string,
    /** deadline of one device call on a worker thread */
    readonly callTimeoutMs: number,
  ) {
    this.handle = handle;
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
    throw new GentlyError("device_error", `${what}: ${message}`, undefined, { rc, code: GC_ERROR_NAMES[rc] ?? "unknown" });
  }

  /** One call on a worker thread; past the deadline the request fails with `timeout` (the worker's call may still end later). */
  private async onWorker(what: string, fn: Fn, ...args: unknown[]): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new GentlyError("timeout", `${what}: the core did not answer within ${this.callTimeoutMs} ms`)),
        this.callTimeoutMs,
      );
    });
    try {
      const rc = await Promise.race([callAsync(fn, this.core, ...args), deadline]);
      return this.check(rc, what);
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
    await this.onWorker(`set ${device}.${prop} = ${value}`, this.b.setProperty, device, prop, value);
  }

  getXY(stage: string): { x_um: number; y_um: number } {
    const x = [0];
    const y = [0];
    this.check(this.b.getXY(this.core, stage, x, y), `get position of ${stage}`);
    return { x_um: x[0], y_um: y[0] };
  }

  async setXY(stage: string, x_um: number, y_um: number): Promise<void> {
    await this.onWorker(`move ${stage} to (${x_um}, ${y_um}) µm`, this.b.setXY, stage, x_um, y_um);
  }

  getPosition(stage: string): number {
    const pos = [0];
    this.check(this.b.getPosition(this.core, stage, pos), `get position of ${stage}`);
    return pos[0];
  }

  async setPosition(stage: string, pos_um: number): Promise<void> {
    await this.onWorker(`move ${stage} to ${pos_um} µm`, this.b.setPosition, stage, pos_um);
  }

  getScanner(scanner: string): { a_deg: number; b_deg: number } {
    const a = [0];
    const b = [0];
    this.check(this.b.getScanner(this.core, scanner, a, b), `get angles of ${scanner}`);
    return { a_deg: a[0], b_deg: b[0] };
  }

  async setScanner(scanner: string, a_deg: number, b_deg: number): Promise<void> {
    await this.onWorker(`set ${scanner} to (${a_deg}, ${b_deg})°`, this.b.setScanner, scanner, a_deg, b_deg);
  }

  async waitForDevice(device: string): Promise<void> {
    await this.onWorker(`wait for ${device}`, this.b.waitForDevice, device);
  }

  async setConfig(group: string, preset: string): Promise<void> {
    await this.onWorker(`set ${group} preset "${preset}"`, this.b.setConfig, group, preset);
  }

  getConfig(group: string): string {
    return this.text(`get ${group} preset`, (out) => this.b.getConfig(this.core, group, out, out.length));
  }

  async setExposure(camera: string, exposure_ms: number): Promise<void> {
    await this.onWorker(`set ${camera} exposure ${exposure_ms} ms`, this.b.setExposure, camera, exposure_ms);
  }

  getExposure(camera: string): number {
    const ms = [0];
    this.check(this.b.getExposure(this.core, camera, ms), `get ${camera} exposure`);
    return ms[0];
  }

  async setRoi(camera: string, roi: { x: number; y: number; width: number; height: number }): Promise<void> {
    await this.onWorker(`set ${camera} ROI`, this.b.setRoi, camera, roi.x, roi.y, roi.width, roi.height);
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
      this.b.startSequence,
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
