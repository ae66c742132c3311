import {
  checkTargets,
  DEVICES,
  GentlyError,
  LaserPreset,
  LedPreset,
  roundToResolution,
  type Dtype,
  type HwState,
  type Limits,
  type MoveRequest,
  type Roi,
  type StagePosition,
} from "@gently/protocol";
import type { Core } from "./core-binding";
import { checkMove, refuseViolations } from "./limits";

/** What a camera is, read once from the core: what frames it can give and how big they can get. */
export interface CameraInfo {
  name: string;
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
 * The diSPIM as devices: positions, presets and cameras on top of the core,
 * with the configured limits checked before anything moves. Knows nothing
 * of NATS or acquisitions.
 */
export class Microscope {
  readonly cameras: ReadonlyMap<string, CameraInfo>;

  constructor(
    readonly core: Core,
    readonly limits: Limits,
  ) {
    const devices = core.listDevices();
    const cameras = new Map<string, CameraInfo>();
    devices.cameras.forEach((name, index) => cameras.set(name, describeCamera(core, name, index)));
    this.cameras = cameras;
  }

  /** Bytes of the largest frame any camera can produce: the ring's slot size. */
  maxFrameBytes(): number {
    let max = 0;
    for (const c of this.cameras.values()) max = Math.max(max, c.sensor.width * c.sensor.height * c.bytesPerPixel);
    return max;
  }

  camera(name: string): CameraInfo {
    const info = this.cameras.get(name);
    if (!info) throw new GentlyError("invalid_request", `no camera '${name}' on this microscope (have ${[...this.cameras.keys()].join(", ")})`, "camera");
    return info;
  }

  cameraByIndex(index: number): CameraInfo {
    for (const c of this.cameras.values()) if (c.index === index) return c;
    throw new GentlyError("device_error", `the core reported a frame of unknown camera index ${index}`);
  }

  binning(camera: string): number {
    return this.camera(camera).hasBinning ? Number(this.core.getProperty(camera, "Binning")) : 1;
  }

  frameShape(camera: string): FrameShape {
    const info = this.camera(camera);
    const roi = this.core.getRoi(camera);
    const binning = this.binning(camera);
    const width = Math.floor(roi.width / binning);
    const height = Math.floor(roi.height / binning);
    const bytes = this.core.frameBytes(camera);
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
      exposure_ms: this.core.getExposure(camera),
    };
  }

  position(): Position {
    const xy = this.core.getXY(DEVICES.xyStage);
    const scanner = this.core.getScanner(DEVICES.scanner);
    return {
      x_um: xy.x_um,
      y_um: xy.y_um,
      z_um: this.core.getPosition(DEVICES.zStage),
      f_um: this.core.getPosition(DEVICES.fDrive),
      piezo_um: this.core.getPosition(DEVICES.piezo),
      galvo_a_deg: scanner.a_deg,
      galvo_b_deg: scanner.b_deg,
    };
  }

  /** Where the sample is, in the form recorded with every frame and volume. */
  stagePosition(): StagePosition {
    const p = this.position();
    return { x_um: p.x_um, y_um: p.y_um, z_um: p.z_um, piezo_um: p.piezo_um, galvo_deg: p.galvo_b_deg };
  }

  laser(): LaserPreset {
    return LaserPreset.parse(this.core.getConfig("Laser"));
  }

  led(): LedPreset {
    return LedPreset.parse(this.core.getConfig("LED"));
  }

  cameraStates(): HwState["cameras"] {
    const out: HwState["cameras"] = {};
    for (const c of this.cameras.values()) {
      out[c.name] = {
        exposure_ms: this.core.getExposure(c.name),
        roi: this.core.getRoi(c.name),
        pixel_size_um: c.pixelSizeUm * this.binning(c.name),
        sensor: c.sensor,
      };
    }
    return out;
  }

  /** Checks every target first: with any violation, nothing moves. */
  move(move: MoveRequest): void {
    refuseViolations(checkMove(this.limits, move));
    switch (move.axis) {
      case "xy":
        this.core.setXY(DEVICES.xyStage, move.x_um, move.y_um);
        this.core.waitForDevice(DEVICES.xyStage);
        return;
      case "z":
        this.core.setPosition(DEVICES.zStage, move.z_um);
        this.core.waitForDevice(DEVICES.zStage);
        return;
      case "fdrive":
        this.core.setPosition(DEVICES.fDrive, move.f_um);
        this.core.waitForDevice(DEVICES.fDrive);
        return;
      case "piezo":
        this.core.setPosition(DEVICES.piezo, roundToResolution(this.limits.piezo_um, move.piezo_um));
        this.core.waitForDevice(DEVICES.piezo);
        return;
      case "galvo": {
        const { a_deg } = this.core.getScanner(DEVICES.scanner);
        this.core.setScanner(DEVICES.scanner, a_deg, move.galvo_deg);
        this.core.waitForDevice(DEVICES.scanner);
        return;
      }
    }
  }

  setLaser(preset: LaserPreset): void {
    this.core.setConfig("Laser", preset);
  }

  setLed(preset: LedPreset): void {
    this.core.setConfig("LED", preset);
  }

  /** Lasers "ALL OFF": the one call that must succeed on every path out of an acquisition. */
  lasersOff(): void {
    this.core.setConfig("Laser", "ALL OFF");
  }

  setCamera(camera: string, exposure_ms: number | undefined, roi: Roi | undefined): void {
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
    if (exposure_ms !== undefined) this.core.setExposure(camera, exposure_ms);
    if (roi) this.core.setRoi(camera, roi);
  }
}

function describeCamera(core: Core, name: string, index: number): CameraInfo {
  const props = new Set(core.listProperties(name));
  const numberProp = (prop: string): number | undefined => (props.has(prop) ? Number(core.getProperty(name, prop)) : undefined);
  const roi = core.getRoi(name);
  const pixelSizeUm = numberProp("PixelSize_um");
  if (!(pixelSizeUm !== undefined && pixelSizeUm > 0)) {
    throw new GentlyError("device_error", `camera ${name} has no PixelSize_um property: its frames could not be scaled to micrometres`);
  }
  const pixelType = props.has("PixelType") ? core.getProperty(name, "PixelType") : "16bit";
  return {
    name,
    index,
    // Without sensor properties the current ROI is the largest frame we know of.
    sensor: { width: numberProp("SensorWidth") ?? roi.x + roi.width, height: numberProp("SensorHeight") ?? roi.y + roi.height },
    bytesPerPixel: /^8/.test(pixelType) ? 1 : 2,
    pixelSizeUm,
    hasBinning: props.has("Binning"),
  };
}
