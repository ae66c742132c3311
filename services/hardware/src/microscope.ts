import {
  CameraName,
  checkLaserPowers,
  checkTargets,
  GentlyError,
  LaserPreset,
  LedPreset,
  roundToResolution,
  type CoreInfo,
  type Dtype,
  type HwState,
  type LaserLine,
  type Limits,
  type MoveRequest,
  type Roi,
  type StagePosition,
} from "@gently/protocol";
import { FatalConfigError } from "@gently/bus";
import type { Core } from "./core-binding";
import { checkMove, refuseViolations } from "./limits";
import { cameraLabel, checkRoles, type DeviceRoles, type RoleSources } from "./roles";

/** What a camera is, read once from the core: what frames it can give and how big they can get. */
export interface CameraInfo {
  /** the protocol's name (its role) */
  name: CameraName;
  /** the core's label */
  label: string;
  /** index in the core's camera list (gc_frame_meta.camera_index) */
  index: number;
  sensor: { width: number; height: number };
  bytesPerPixel: number;
  /** unbinned pixel size at the sample */
  pixelSizeUm: number;
  hasBinning: boolean;
}

/** Shape of the frames a camera gives with its current settings. */
export interface FrameShape {
  width: number;
  height: number;
  dtype: Dtype;
  bytes: number;
  pixel_size_um: number;
  exposure_ms: number;
}

type Position = HwState["position"];

/**
 * The microscope as roles: positions, presets and cameras on top of the
 * core, with the configured limits checked before anything moves. Every
 * call that waits on a device is awaited on the core's worker threads; the
 * reads stay synchronous. Knows nothing of NATS or acquisitions.
 */
export class Microscope {
  readonly cameras: ReadonlyMap<CameraName, CameraInfo>;
  readonly coreInfo: CoreInfo;

  /**
   * Checks every role against the core first: a missing device, a device of
   * the wrong kind or a missing preset throws FatalConfigError naming the
   * role, the label and the config files.
   */
  /** the roles in effect: those asked for, less an optional one the core lacks */
  readonly roles: DeviceRoles;
  /** roles left out at start, and why (for the start log) */
  readonly roleNotes: string[];

  constructor(
    readonly core: Core,
    readonly limits: Limits,
    asked: DeviceRoles,
    sources: RoleSources = {},
  ) {
    const devices = core.listDevices();
    const { roles, notes } = checkRoles(asked, devices, sources);
    this.roles = roles;
    this.roleNotes = notes;
    const cameras = new Map<CameraName, CameraInfo>();
    for (const name of CameraName.options) {
      const label = cameraLabel(roles, name);
      cameras.set(name, describeCamera(core, name, label, devices.cameras.indexOf(label)));
    }
    this.cameras = cameras;
    if (roles.laser_power) {
      const { device, lines } = roles.laser_power;
      const props = new Set(core.listProperties(device));
      for (const [line, prop] of Object.entries(lines)) {
        if (!props.has(prop)) throw new FatalConfigError(`role laser_power: device "${device}" has no property "${prop}" (line ${line} nm)`);
      }
    }
    this.coreInfo = {
      version: devices.core?.version ?? "unknown",
      device_api: devices.core?.device_api ?? null,
      sweep_mode: devices.core?.hardware_sweep === false ? "stepped" : "hardware",
    };
  }

  /** Bytes of the largest frame any camera can produce: the ring's slot size. */
  maxFrameBytes(): number {
    let max = 0;
    for (const c of this.cameras.values()) max = Math.max(max, c.sensor.width * c.sensor.height * c.bytesPerPixel);
    return max;
  }

  camera(name: string): CameraInfo {
    const info = this.cameras.get(name as CameraName);
    if (!info) throw new GentlyError("invalid_request", `no camera '${name}' on this microscope (have ${[...this.cameras.keys()].join(", ")})`, "camera");
    return info;
  }

  cameraByIndex(index: number): CameraInfo {
    for (const c of this.cameras.values()) if (c.index === index) return c;
    throw new GentlyError("device_error", `the core reported a frame of unknown camera index ${index}`);
  }

  binning(camera: string): number {
    const info = this.camera(camera);
    return info.hasBinning ? Number(this.core.getProperty(info.label, "Binning")) : 1;
  }

  frameShape(camera: string): FrameShape {
    const info = this.camera(camera);
    const roi = this.core.getRoi(info.label);
    const binning = this.binning(camera);
    const width = Math.floor(roi.width / binning);
    const height = Math.floor(roi.height / binning);
    const bytes = this.core.frameBytes(info.label);
    const bytesPerPixel = bytes / (width * height);
    if (bytesPerPixel !== 1 && bytesPerPixel !== 2) {
      throw new GentlyError("device_error", `camera ${camera}: ${bytes} bytes for ${width}x${height} pixels is neither 8- nor 16-bit`);
    }
    return {
      width,
      height,
      dtype: bytesPerPixel === 1 ? "uint8" : "uint16",
      bytes,
      pixel_size_um: info.pixelSizeUm * binning,
      exposure_ms: this.core.getExposure(info.label),
    };
  }

  position(): Position {
    const { roles } = this;
    const xy = this.core.getXY(roles.xy_stage);
    const scanner = this.core.getScanner(roles.scanner);
    return {
      x_um: xy.x_um,
      y_um: xy.y_um,
      z_um: this.core.getPosition(roles.z_stage),
      f_um: this.core.getPosition(roles.f_drive),
      piezo_um: this.core.getPosition(roles.piezo),
      galvo_a_deg: scanner.a_deg,
      galvo_b_deg: scanner.b_deg,
    };
  }

  /** Where the sample is, in the form recorded with every frame and volume. */
  stagePosition(): StagePosition {
    const p = this.position();
    return { x_um: p.x_um, y_um: p.y_um, z_um: p.z_um, piezo_um: p.piezo_um, galvo_deg: p.galvo_b_deg };
  }

  /** Refuses with limit_violation when the stage already stands outside its limits (an acquisition there would image where nobody allowed). */
  refuseIfOutsideLimits(what: string): void {
    const p = this.position();
    const violations = checkTargets(this.limits, { x_um: p.x_um, y_um: p.y_um, z_um: p.z_um, f_um: p.f_um }, `current position, before ${what}`);
    refuseViolations(violations);
  }

  laser(): LaserPreset {
    const preset = this.core.getConfig(this.roles.laser_group);
    return preset === this.roles.laser_off_preset ? "ALL OFF" : LaserPreset.parse(preset);
  }

  led(): LedPreset {
    return LedPreset.parse(this.core.getConfig(this.roles.led_group));
  }

  cameraStates(): HwState["cameras"] {
    const out: HwState["cameras"] = {};
    for (const c of this.cameras.values()) {
      out[c.name] = {
        exposure_ms: this.core.getExposure(c.label),
        roi: this.core.getRoi(c.label),
        pixel_size_um: c.pixelSizeUm * this.binning(c.name),
        sensor: c.sensor,
      };
    }
    return out;
  }

  /**
   * Checks every target first: with any violation, nothing moves. Resolves once the device has arrived.
   * A device refusing the target itself (past its own travel) is a limit_violation naming the field.
   */
  async move(move: MoveRequest): Promise<void> {
    refuseViolations(checkMove(this.limits, move));
    const { core, roles, limits } = this;
    switch (move.axis) {
      case "xy":
        await naming("x_um,y_um", core.setXY(roles.xy_stage, roundToResolution(limits.x_um, move.x_um), roundToResolution(limits.y_um, move.y_um)));
        await core.waitForDevice(roles.xy_stage);
        return;
      case "z":
        await naming("z_um", core.setPosition(roles.z_stage, roundToResolution(limits.z_um, move.z_um)));
        await core.waitForDevice(roles.z_stage);
        return;
      case "fdrive":
        await naming("f_um", core.setPosition(roles.f_drive, roundToResolution(limits.f_um, move.f_um)));
        await core.waitForDevice(roles.f_drive);
        return;
      case "piezo":
        await naming("piezo_um", core.setPosition(roles.piezo, roundToResolution(limits.piezo_um, move.piezo_um)));
        await core.waitForDevice(roles.piezo);
        return;
      case "galvo": {
        const { a_deg } = core.getScanner(roles.scanner);
        await naming("galvo_deg", core.setScanner(roles.scanner, a_deg, roundToResolution(limits.galvo_deg, move.galvo_deg)));
        await core.waitForDevice(roles.scanner);
        return;
      }
    }
  }

  /**
   * Puts the sheet at one slice of a stepped sweep: piezo and galvo set
   * together, both waited for, then read back from the devices (what the
   * slice was really exposed at). The caller checked the sweep's limits.
   */
  async moveSheet(piezo_um: number, galvo_deg: number): Promise<{ piezo_um: number; galvo_deg: number }> {
    const { core, roles, limits } = this;
    const { a_deg } = core.getScanner(roles.scanner);
    await Promise.all([
      naming("sweep", core.setPosition(roles.piezo, roundToResolution(limits.piezo_um, piezo_um))),
      naming("sweep", core.setScanner(roles.scanner, a_deg, roundToResolution(limits.galvo_deg, galvo_deg))),
    ]);
    await Promise.all([core.waitForDevice(roles.piezo), core.waitForDevice(roles.scanner)]);
    return { piezo_um: core.getPosition(roles.piezo), galvo_deg: core.getScanner(roles.scanner).b_deg };
  }

  async setLaser(preset: LaserPreset): Promise<void> {
    await this.core.setConfig(this.roles.laser_group, preset === "ALL OFF" ? this.roles.laser_off_preset : preset);
  }

  async setLed(preset: LedPreset): Promise<void> {
    await this.core.setConfig(this.roles.led_group, preset);
  }

  /** Lasers "ALL OFF": the one call that must succeed on every path out of an acquisition. */
  async lasersOff(): Promise<void> {
    await this.core.setConfig(this.roles.laser_group, this.roles.laser_off_preset);
  }

  /** Power of every line with power control, percent, as the device reports it. */
  laserPowers(): Partial<Record<LaserLine, number>> {
    const out: Partial<Record<LaserLine, number>> = {};
    const control = this.roles.laser_power;
    if (!control) return out;
    for (const [line, prop] of Object.entries(control.lines)) out[line as LaserLine] = Number(this.core.getProperty(control.device, prop));
    return out;
  }

  /** Checks every power against its line's cap first (any violation: nothing changes), then sets them and reads all back. */
  async setLaserPowers(powers_pct: Partial<Record<LaserLine, number>>): Promise<Partial<Record<LaserLine, number>>> {
    refuseViolations(checkLaserPowers(this.limits, powers_pct));
    const control = this.roles.laser_power;
    if (!control) throw new GentlyError("invalid_request", "this microscope has no laser power control (no laser_power role)", "powers_pct");
    for (const line of Object.keys(powers_pct)) {
      if (!control.lines[line]) {
        throw new GentlyError("invalid_request", `laser line ${line} nm has no power control (have ${Object.keys(control.lines).join(", ")} nm)`, "powers_pct");
      }
    }
    for (const [line, pct] of Object.entries(powers_pct)) await naming("powers_pct", this.core.setProperty(control.device, control.lines[line]!, String(pct)));
    return this.laserPowers();
  }

  async setCamera(camera: string, exposure_ms: number | undefined, roi: Roi | undefined): Promise<void> {
    const info = this.camera(camera);
    if (exposure_ms !== undefined) {
      refuseViolations(checkTargets(this.limits, { exposure_ms, camera }));
    }
    if (roi && (roi.x + roi.width > info.sensor.width || roi.y + roi.height > info.sensor.height)) {
      throw new GentlyError(
        "invalid_request",
        `ROI x=${roi.x} y=${roi.y} ${roi.width}x${roi.height} does not fit the ${info.sensor.width}x${info.sensor.height} sensor of ${camera}`,
        "roi",
      );
    }
    const binning = this.binning(camera);
    if (roi && [roi.x, roi.y, roi.width, roi.height].some((v) => v % binning !== 0)) {
      throw new GentlyError(
        "invalid_request",
        `ROI x=${roi.x} y=${roi.y} ${roi.width}x${roi.height} of ${camera} is not a whole number of ${binning}x${binning} binned pixels: every value must be a multiple of ${binning}`,
        "roi",
      );
    }
    if (exposure_ms !== undefined) await naming("exposure_ms", this.core.setExposure(info.label, exposure_ms));
    if (roi) await naming("roi", this.core.setRoi(info.label, roi));
  }
}

/** A value the device refused itself (the core's limit_violation) names the request's field it came from. */
async function naming<T>(field: string, call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (err) {
    if (err instanceof GentlyError && err.code === "limit_violation" && err.field === undefined) throw new GentlyError(err.code, err.message, field, err.details);
    throw err;
  }
}

function describeCamera(core: Core, name: CameraName, label: string, index: number): CameraInfo {
  const props = new Set(core.listProperties(label));
  const numberProp = (prop: string): number | undefined => (props.has(prop) ? Number(core.getProperty(label, prop)) : undefined);
  const roi = core.getRoi(label);
  const pixelSizeUm = numberProp("PixelSize_um");
  if (!(pixelSizeUm !== undefined && pixelSizeUm > 0)) {
    throw new FatalConfigError(`camera ${name} ("${label}") has no PixelSize_um property: its frames could not be scaled to micrometres`);
  }
  const pixelType = props.has("PixelType") ? core.getProperty(label, "PixelType") : "16bit";
  return {
    name,
    label,
    index,
    // Without sensor properties the current ROI is the largest frame we know of.
    sensor: { width: numberProp("SensorWidth") ?? roi.x + roi.width, height: numberProp("SensorHeight") ?? roi.y + roi.height },
    bytesPerPixel: /^8/.test(pixelType) ? 1 : 2,
    pixelSizeUm,
    hasBinning: props.has("Binning"),
  };
}
