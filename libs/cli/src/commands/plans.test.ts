import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NatsConnection } from "@nats-io/transport-node";
import { call, connectBus, createLogger } from "@gently/bus";
import { hw } from "@gently/protocol";
import { nodeArgsFor, REPO_ROOT } from "@gently/supervisor";
import { spawnTs, tempStorage } from "@gently/testing";
import { startAcquisitionServices, type AcquisitionServices } from "../../test/acquisition-services";

const CLI = path.join(REPO_ROOT, "libs", "cli", "src", "main.ts");
const logger = createLogger("cli-plans-test", "silent");

describe("gently plan commands (real nats-server, hardware, writer and plan-runner processes)", () => {
  let system: AcquisitionServices;
  let nc: NatsConnection;
  const storage = tempStorage("gently-cli-plans-");

  async function gently(...args: string[]): Promise<{ code: number | null; out: string; json: Record<string, unknown> | null }> {
    const p = spawnTs(CLI, { ...system.env, GENTLY_LOG_LEVEL: "silent" }, args);
    const { code } = await p.exited;
    const last = [...p.lines].reverse().find((l) => l.startsWith("{") || l.startsWith("["));
    return { code, out: p.lines.join("\n"), json: last ? (JSON.parse(last) as Record<string, unknown>) : null };
  }

  beforeAll(async () => {
    system = await startAcquisitionServices(storage.dir);
    nc = await connectBus({ servers: system.nats.url, name: "cli-plans-test", logger });
    // small frames keep the test fast; the CLI itself never touches gently.hw.*
    await call(nc, hw.setCamera, { camera: "HamCam1", roi: { x: 896, y: 960, width: 256, height: 128 } });
  });

  afterAll(async () => {
    await nc?.close();
    await system?.stop();
    storage.remove();
  });

  it("acquire --json prints the volume's uid, path, shape, dtype, session and run, and exits 0", async () => {
    const r = await gently("acquire", "--num-slices", "20", "--session-id", "cli-test", "--json");
    expect(r.code, r.out).toBe(0);
    expect(Object.keys(r.json!).sort()).toEqual(["dtype", "path", "run_uid", "session_id", "shape", "uid"]);
    expect(r.json).toMatchObject({ shape: [20, 128, 256], dtype: "uint16", session_id: "cli-test" });
    expect(r.json!.path).toBe(path.join(storage.dir, "volumes", `${r.json!.uid}.tif`));
    expect(existsSync(String(r.json!.path))).toBe(true);

    const watched = await gently("watch", String(r.json!.run_uid));
    expect(watched.code).toBe(0);
    expect(watched.out).toMatch(/start acquire_volume session cli-test/);
    expect(watched.out).toMatch(new RegExp(`file ${r.json!.uid} 20×128×256 uint16`));
    expect(watched.out).toMatch(/stop success/);
    const unknown = await gently("watch", "000000000000000000000");
    expect(unknown.code).toBe(1);
    expect(unknown.out).toMatch(/no run 000000000000000000000/);
  });

  it("prints the uid and path for people, and moves the stage with kebab-case flags of the plan's fields", async () => {
    const acquired = await gently("acquire", "--num-slices", "4", "--cameras", "HamCam1", "--piezo-center-um=-2", "--piezo-amplitude-um", "2");
    expect(acquired.code, acquired.out).toBe(0);
    expect(acquired.out).toMatch(/^uid\s+[0-9A-Za-z]{21}$/m);
    expect(acquired.out).toMatch(new RegExp(`^path\\s+${path.join(storage.dir, "volumes")}/[0-9A-Za-z]{21}\\.tif$`, "m"));
    const moved = await gently("move", "--x-um", "1520", "--y-um", "5", "--json");
    expect(moved.code, moved.out).toBe(0);
    expect(moved.json).toMatchObject({ x_um: 1520, y_um: 5 });
    expect((await call(nc, hw.state, {})).position).toMatchObject({ x_um: 1520, y_um: 5 });
  });

  it("exits 2 on a bad flag, 1 on a refused plan (every violation in --json), and lists runs in its history", async () => {
    const bad = await gently("move", "--x-um", "abc", "--y-um", "0");
    expect(bad.code).toBe(2);
    expect(bad.out).toMatch(/--x-um: expected a number in µm, got 'abc'/);
    const refused = await gently("timelapse", "--num-timepoints", "2", "--interval-s", "1", "--num-slices", "10", "--piezo-center-um", "195", "--piezo-amplitude-um", "9", "--json");
    expect(refused.code).toBe(1);
    const error = (refused.json as { error: { code: string; details: { violations: { where: string }[] } } }).error;
    expect(error.code).toBe("limit_violation");
    expect(error.details.violations.map((v) => v.where)).toEqual(["timepoint 1, slice 9", "timepoint 1, slice 10", "timepoint 2, slice 9", "timepoint 2, slice 10"]);
    const history = await gently("history", "--json");
    expect(history.code).toBe(0);
    expect((history.json as { runs: { plan: string }[] }).runs.map((r) => r.plan)).toEqual(["move_stage", "acquire_volume", "acquire_volume"]);
  });

  it("sets a laser line's power and prints every line's read back; a power above the cap is refused naming the limit", async () => {
    const set = await gently("laser-power", "--power-488-pct", "4.5", "--json");
    expect(set.code, set.out).toBe(0);
    expect(set.json).toMatchObject({ power_405_pct: 0, power_488_pct: 4.5, power_561_pct: 0, power_637_pct: 0 });
    const refused = await gently("laser-power", "--power-488-pct", "7");
    expect(refused.code).toBe(1);
    expect(refused.out).toContain("laser 488 nm power_pct 7 is above the maximum 6");
  });

  it("takes negative numbers as values and prints results for people: rounded numbers with units, lists as tables", async () => {
    // the README's own example: a list starting with a negative number, and a negative scalar, both without '='
    const focus = await gently("focus", "--galvo-positions-deg", "-0.1,0,0.1", "--piezo-um", "-5", "--exposure-ms", "2");
    expect(focus.code, focus.out).toBe(0);
    expect(focus.out).toMatch(/^piezo_um\s+-5 µm$/m);
    expect(focus.out).toMatch(/^best_galvo_deg\s+-?0(\.\d{1,4})? °$/m);
    expect(focus.out).toMatch(/^scores:\n\s+galvo_deg \[°\]\s+score/m);
    expect(focus.out).toMatch(/^\s+-0\.1\s+0\.\d{1,5}\s+[0-9A-Za-z]{21}$/m);
    // no 16-digit floats anywhere
    expect(focus.out).not.toMatch(/\d\.\d{6,}/);
    const json = await gently("focus", "--galvo-positions-deg", "-0.1,0,0.1", "--piezo-um", "-5", "--exposure-ms", "2", "--json");
    expect(json.code, json.out).toBe(0);
    expect((json.json as { scores: { galvo_deg: number }[] }).scores.map((p) => p.galvo_deg)).toEqual([-0.1, 0, 0.1]);
    const timelapse = await gently("timelapse", "--num-timepoints", "2", "--interval-s", "0", "--num-slices", "3", "--piezo-center-um", "-1", "--piezo-amplitude-um", "1");
    expect(timelapse.code, timelapse.out).toBe(0);
    expect(timelapse.out).toMatch(/^volumes:\n\s+uid\s+path\s+shape\s+dtype/m);
    expect(timelapse.out).toMatch(/\s3×128×256\s+uint16/);
  });

  it("moves its progress bar per frame on a terminal", () => {
    // a pseudo-terminal (util-linux script), as a person's shell gives the CLI
    const command = [process.execPath, ...nodeArgsFor(CLI), "acquire", "--num-slices", "1500"].map((a) => `'${a}'`).join(" ");
    const r = spawnSync("script", ["-qfec", command, "/dev/null"], { env: { ...process.env, ...system.env, GENTLY_LOG_LEVEL: "silent" }, encoding: "utf8", timeout: 60_000 });
    expect(r.status, r.stdout).toBe(0);
    // the bar redraws in place with escape sequences
    const shown = r.stdout.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, "");
    const counts = new Set([...shown.matchAll(/ (\d+)\/1500 /g)].map((m) => Number(m[1])));
    expect([...counts].filter((n) => n > 0 && n < 1500).length, `bar values: ${[...counts].join(", ")}`).toBeGreaterThanOrEqual(4);
  });
});
