import { readFileSync } from "node:fs";
import { z } from "zod";
import { FatalConfigError } from "@gently/bus";
import { CameraName, DEVICES, LASER_PRESETS, LedPreset } from "@gently/protocol";
import type { DeviceList } from "./core-binding";

const Label = z.string().min(1).max(200);

/**
 * Which core device plays each part of the microscope. The protocol speaks of
 * roles (the XY stage, camera "HamCam2"); the core of labels from its config
 * file. Defaults are the diSPIM's Micro-Manager labels.
 */
export const DeviceRoles = z
  .object({
    xy_stage: Label,
    z_stage: Label,
    f_drive: Label,
    piezo: Label,
    /** two-axis galvo: A sheet scan, B slice ("galvo") */
    scanner: Label,
    /** the protocol's "HamCam1" and "HamCam2" */
    light_sheet_cameras: z.tuple([Label, Label]),
    /** the protocol's "Bottom PCO" */
    bottom_camera: Label,
    /** config group whose presets are the protocol's laser presets */
    laser_group: Label,
    /** the preset of laser_group that switches every laser off */
    laser_off_preset: Label,
    /** config group with the presets "Open" and "Closed" */
    led_group: Label,
    /** the device whose properties set each laser line's power in percent; absent: no power control */
    laser_power: z
      .object({ device: Label, lines: z.record(z.string().regex(/^\d{3}$/, "a wavelength in nm"), Label) })
      .strict()
      .optional(),
  })
  .strict();
export type DeviceRoles = z.infer<typeof DeviceRoles>;

export const DISPIM_ROLES: DeviceRoles = {
  xy_stage: DEVICES.xyStage,
  z_stage: DEVICES.zStage,
  f_drive: DEVICES.fDrive,
  piezo: DEVICES.piezo,
  scanner: DEVICES.scanner,
  light_sheet_cameras: [DEVICES.lightSheetCameras[0], DEVICES.lightSheetCameras[1]],
  bottom_camera: DEVICES.bottomCamera,
  laser_group: "Laser",
  laser_off_preset: "ALL OFF",
  led_group: "LED",
  laser_power: {
    device: "LaserCombiner",
    lines: { "405": "PowerSetpoint405", "488": "PowerSetpoint488", "561": "PowerSetpoint561", "637": "PowerSetpoint637" },
  },
};

/**
 * Roles from the JSON file named by GENTLY_ROLES over the diSPIM defaults
 * (e.g. `{"scanner": "Galvo", "laser_power": null}`; null removes an
 * optional role). A file that does not parse is fatal: restarting will not fix it.
 * `laserPowerDefaulted`: nobody asked for the diSPIM's laser power device, so
 * a core without it simply has no power control (checkRoles).
 */
export function loadRoles(file: string | undefined): { roles: DeviceRoles; laserPowerDefaulted: boolean } {
  if (!file) return { roles: DISPIM_ROLES, laserPowerDefaulted: true };
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new FatalConfigError(`GENTLY_ROLES ${file}: ${(err as Error).message}`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new FatalConfigError(`GENTLY_ROLES ${file}: must be a JSON object`);
  const merged: Record<string, unknown> = { ...DISPIM_ROLES, ...raw };
  for (const [key, value] of Object.entries(merged)) if (value === null) delete merged[key];
  const parsed = DeviceRoles.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new FatalConfigError(`GENTLY_ROLES ${file}: ${issue?.path.join(".") || "(top level)"}: ${issue?.message}`);
  }
  return { roles: parsed.data, laserPowerDefaulted: !("laser_power" in raw) };
}

const article = (noun: string) => (/^[aeioux]/i.test(noun) ? "an" : "a");

/** The core label of a protocol camera name. */
export function cameraLabel(roles: DeviceRoles, camera: CameraName): string {
  switch (camera) {
    case "HamCam1":
      return roles.light_sheet_cameras[0];
    case "HamCam2":
      return roles.light_sheet_cameras[1];
    case "Bottom PCO":
      return roles.bottom_camera;
  }
}

export interface RoleSources {
  /** the core's config file (GENTLY_CONFIG), or undefined for the library's defaults */
  coreConfig?: string;
  /** the roles file (GENTLY_ROLES), or undefined for the diSPIM defaults */
  rolesFile?: string;
  /** laser_power is the diSPIM default nobody asked for: without its device there is no power control, not an error */
  laserPowerDefaulted?: boolean;
}

/**
 * Every role against what the core has: the device exists and is of the
 * right kind, the groups have every preset the protocol can ask for. The
 * first problem is fatal, named by role, label and the files involved.
 * Returns the roles in effect (without a defaulted laser power device the
 * core lacks) and what was left out, for the start log.
 */
export function checkRoles(roles: DeviceRoles, devices: DeviceList, sources: RoleSources): { roles: DeviceRoles; notes: string[] } {
  const where = `in ${sources.coreConfig ? `core config ${sources.coreConfig}` : "the core's default configuration"} (roles from ${sources.rolesFile ? `GENTLY_ROLES ${sources.rolesFile}` : "the diSPIM defaults; set GENTLY_ROLES to map them"})`;
  const kinds: Record<string, string[]> = {
    camera: devices.cameras,
    "XY stage": devices.xy_stages,
    stage: devices.stages,
    scanner: devices.scanners,
  };
  const kindOf = (label: string): string | undefined =>
    Object.entries(kinds).find(([, labels]) => labels.includes(label))?.[0] ?? (devices.other.includes(label) ? "other device" : undefined);
  const expect = (role: string, label: string, kind: string) => {
    const found = kindOf(label);
    if (found === undefined) throw new FatalConfigError(`role ${role}: no device "${label}" ${where}`);
    if (found !== kind) throw new FatalConfigError(`role ${role}: device "${label}" is ${article(found)} ${found}, not ${article(kind)} ${kind}, ${where}`);
  };
  expect("xy_stage", roles.xy_stage, "XY stage");
  expect("z_stage", roles.z_stage, "stage");
  expect("f_drive", roles.f_drive, "stage");
  expect("piezo", roles.piezo, "stage");
  expect("scanner", roles.scanner, "scanner");
  roles.light_sheet_cameras.forEach((label, i) => expect(`light_sheet_cameras[${i}]`, label, "camera"));
  expect("bottom_camera", roles.bottom_camera, "camera");
  const presets = (role: string, group: string, wanted: readonly string[]) => {
    const have = devices.config_groups[group];
    if (!have) throw new FatalConfigError(`role ${role}: no config group "${group}" ${where}`);
    const missing = wanted.filter((p) => !have.includes(p));
    if (missing.length > 0) {
      throw new FatalConfigError(`role ${role}: config group "${group}" lacks preset(s) ${missing.map((p) => `"${p}"`).join(", ")} ${where}`);
    }
  };
  presets("laser_off_preset", roles.laser_group, [roles.laser_off_preset]);
  presets("laser_group", roles.laser_group, LASER_PRESETS.filter((p) => p !== "ALL OFF"));
  presets("led_group", roles.led_group, LedPreset.options);
  if (roles.laser_power) {
    const { device } = roles.laser_power;
    if (kindOf(device) === undefined) {
      if (!sources.laserPowerDefaulted) throw new FatalConfigError(`role laser_power: no device "${device}" ${where}`);
      const without: DeviceRoles = { ...roles };
      delete without.laser_power;
      return {
        roles: without,
        notes: [`no laser power control: the diSPIM's laser power device "${device}" is not ${where}; map role laser_power in GENTLY_ROLES to control it`],
      };
    }
  }
  return { roles, notes: [] };
}
