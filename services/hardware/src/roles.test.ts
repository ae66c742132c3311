import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FatalConfigError } from "@gently/bus";
import { nativeLibraryPath } from "@gently/native";
import { tempStorage } from "@gently/testing";
import { Core, type DeviceList } from "./core-binding";
import { checkRoles, DISPIM_ROLES, loadRoles } from "./roles";

/** The laser power role against the simulator's device list, and that list without the power device (as Micro-Manager's DemoCamera config has none). */
describe("the optional laser power role", () => {
  const storage = tempStorage("gently-roles-");
  let core: Core;
  let withPower: DeviceList;
  let withoutPower: DeviceList;

  beforeAll(() => {
    core = Core.open(nativeLibraryPath("gently_sim"));
    withPower = core.listDevices();
    withoutPower = { ...withPower, other: withPower.other.filter((d) => d !== "LaserCombiner") };
  });

  afterAll(() => {
    core?.close();
    storage.remove();
  });

  function rolesFile(roles: object): string {
    const file = path.join(storage.dir, `roles-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify(roles));
    return file;
  }

  it("is left out, with a note naming the device and GENTLY_ROLES, when nobody asked for the diSPIM's device and the core lacks it", () => {
    const loaded = loadRoles(undefined);
    expect(loaded.laserPowerDefaulted).toBe(true);
    const { roles, notes } = checkRoles(loaded.roles, withoutPower, { coreConfig: "gently-demo.cfg", laserPowerDefaulted: loaded.laserPowerDefaulted });
    expect(roles.laser_power).toBeUndefined();
    expect(roles.scanner).toBe(DISPIM_ROLES.scanner);
    expect(notes).toEqual([
      `no laser power control: the diSPIM's laser power device "LaserCombiner" is not in core config gently-demo.cfg (roles from the diSPIM defaults; set GENTLY_ROLES to map them); map role laser_power in GENTLY_ROLES to control it`,
    ]);
    // A roles file that maps other roles leaves laser power to the defaults too.
    const other = loadRoles(rolesFile({ scanner: "Scanner:AB:33" }));
    expect(other.laserPowerDefaulted).toBe(true);
    expect(checkRoles(other.roles, withoutPower, { laserPowerDefaulted: other.laserPowerDefaulted }).roles.laser_power).toBeUndefined();
  });

  it("is kept where the core has the device", () => {
    const { roles, notes } = checkRoles(DISPIM_ROLES, withPower, { laserPowerDefaulted: true });
    expect(roles.laser_power?.device).toBe("LaserCombiner");
    expect(notes).toEqual([]);
  });

  it("stops the service when a roles file asks for a power device the core lacks", () => {
    const file = rolesFile({ laser_power: DISPIM_ROLES.laser_power });
    const loaded = loadRoles(file);
    expect(loaded.laserPowerDefaulted).toBe(false);
    const check = () => checkRoles(loaded.roles, withoutPower, { coreConfig: "demo.cfg", rolesFile: file, laserPowerDefaulted: loaded.laserPowerDefaulted });
    expect(check).toThrow(FatalConfigError);
    expect(check).toThrow(`role laser_power: no device "LaserCombiner" in core config demo.cfg (roles from GENTLY_ROLES ${file})`);
    // null removes it on purpose: nothing to note
    const none = loadRoles(rolesFile({ laser_power: null }));
    expect(checkRoles(none.roles, withoutPower, { laserPowerDefaulted: none.laserPowerDefaulted })).toEqual({ roles: none.roles, notes: [] });
  });
});
