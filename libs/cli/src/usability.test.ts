import path from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "@gently/supervisor";
import { spawnTs } from "@gently/testing";
import { joinNegativeValues, suggest } from "./args";
import { formatBytes, formatNumber, humanRecord, inlineRecord } from "./format";

const CLI = path.join(REPO_ROOT, "libs", "cli", "src", "main.ts");

/** Runs the CLI as a user would; refusals of the command line come before any connection, so no NATS is needed. */
async function gently(...args: string[]): Promise<{ code: number | null; out: string }> {
  const p = spawnTs(CLI, { GENTLY_NATS_URL: "nats://127.0.0.1:1", GENTLY_LOG_LEVEL: "silent" }, args);
  const { code } = await p.exited;
  return { code, out: p.lines.join("\n") };
}

describe("gently command line: refusals that say what was meant", () => {
  it("suggests the command meant by a typo or a prefix", async () => {
    const r = await gently("acquir");
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/unknown command 'acquir'; did you mean 'acquire'\?/);
    expect(suggest("calibrat", ["calibrate", "credentials", "acquire"])).toEqual(["calibrate"]);
    expect(suggest("xyz", ["acquire", "status"])).toEqual([]);
  });

  it("suggests the flag meant, and says which flags exist", async () => {
    const r = await gently("acquire", "--num-slice", "5");
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/gently acquire: unknown flag '--num-slice'; did you mean '--num-slices'\? \('gently acquire --help' lists its flags\)/);
  });

  it("names the flag, the kind and range it takes, and the value given", async () => {
    const cases: [string[], RegExp][] = [
      [["acquire", "--num-slices", "10.5"], /--num-slices: expected a whole number from 1 to 10000, got '10.5'/],
      [["acquire", "--exposure-ms", "0"], /--exposure-ms: expected a number above 0 and at most 10000 ms, got '0'/],
      [["move", "--x-um", "abc", "--y-um", "0"], /--x-um: expected a number in µm, got 'abc'/],
      [["move", "--x-um", "1200"], /--y-um is required: a number in µm/],
      [["acquire", "--laser-config", "488"], /--laser-config: expected one of "ALL OFF", .*, got '488'; did you mean '488 and 561' or '488 only'\?/],
      [["acquire", "--cameras", "HamCam3"], /--cameras: expected a comma-separated list of 1 to 2 values, each one of "HamCam1", "HamCam2", got 'HamCam3'; did you mean/],
      [["focus", "--galvo-positions-deg", "-0.1"], /--galvo-positions-deg: expected a comma-separated list of 2 to 401 values, each a number in °, got '-0.1'/],
      [["acquire", "--num-slices"], /gently acquire: --num-slices needs a value: slices per volume/],
      [["acquire", "--json=yes"], /--json is a switch and takes no value/],
    ];
    for (const [args, message] of cases) {
      const r = await gently(...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.out, args.join(" ")).toMatch(message);
    }
  });

  it("takes negative numbers after a flag without '=', and leaves negative-looking flags alone", () => {
    const options = { "piezo-um": { type: "string" as const, description: "" }, json: { type: "boolean" as const, description: "" } };
    expect(joinNegativeValues(["--piezo-um", "-5", "--json"], options)).toEqual(["--piezo-um=-5", "--json"]);
    expect(joinNegativeValues(["--piezo-um", "-0.1,0,0.1"], options)).toEqual(["--piezo-um=-0.1,0,0.1"]);
    expect(joinNegativeValues(["--piezo-um", "-.5"], options)).toEqual(["--piezo-um=-.5"]);
    expect(joinNegativeValues(["--json", "-5"], options)).toEqual(["--json", "-5"]);
    expect(joinNegativeValues(["--piezo-um", "--json"], options)).toEqual(["--piezo-um", "--json"]);
  });
});

describe("gently output for people", () => {
  it("rounds numbers, keeps units, writes sizes in kB/MB/GB and lists as tables", () => {
    expect(formatNumber(0.30000000000000004)).toBe("0.3");
    expect(formatNumber(0.012345678)).toBe("0.01235");
    expect(formatNumber(1234.56789)).toBe("1234.6");
    expect(formatNumber(-5)).toBe("-5");
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(209_715_200)).toBe("210 MB");
    expect(formatBytes(1_240_000_000)).toBe("1.24 GB");
    expect(inlineRecord({ piezo_um: 50.00000000000001, laser_config: "488 only", shape: [4, 128, 256] })).toBe("piezo_um=50 µm  laser_config=488 only  shape=4×128×256");
    const text = humanRecord({
      slope_deg_per_um: 0.019999999999999997,
      offset_deg: -0.9999999999999998,
      r2: 0.9987654321,
      shape: [100, 512, 2048],
      bytes: 209_715_200,
      sweeps: [
        { piezo_um: 40, peak_galvo_deg: -0.20000000000000004 },
        { piezo_um: 60, peak_galvo_deg: 0.2 },
      ],
    });
    expect(text).toBe(
      [
        "slope_deg_per_um  0.02 °/µm",
        "offset_deg        -1 °",
        "r2                0.9988",
        "shape             100×512×2048",
        "bytes             210 MB",
        "sweeps:",
        "  piezo_um [µm]  peak_galvo_deg [°]",
        "  40             -0.2",
        "  60             0.2",
      ].join("\n"),
    );
  });
});
