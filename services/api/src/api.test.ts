import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { request } from "node:http";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copilotTools, hw, PLAN_NAMES, SERVICE_NAMES } from "@gently/protocol";
import { freePort, REPO_ROOT } from "@gently/supervisor";
import { spawnService, startTestSystem, waitFor, type TestSystem } from "@gently/testing";

const run = promisify(execFile);

interface Refusal {
  success: false;
  msg: string;
  error: { code: string; message: string; field?: string };
}
interface DevicesState {
  positions: Record<string, number>;
}
const PYTHON = "/usr/bin/python3";
const COPILOT_SCRIPT = path.join(REPO_ROOT, "services/api/copilot/legacy_copilot.py");

/** The system as `npm start` runs it, the HTTP API among its processes; SAM is not needed here. */
const SERVICES = [...SERVICE_NAMES.filter((s) => s !== "sam"), "api"];

describe("HTTP API for the existing copilot (real system under the supervisor, real NATS accounts)", () => {
  let system: TestSystem;
  let base: string;

  beforeAll(async () => {
    system = await startTestSystem({ services: SERVICES });
    base = `http://127.0.0.1:${system.apiPort}`;
  }, 120_000);
  afterAll(() => system?.stop());

  const hasPython = existsSync(PYTHON);
  if (!hasPython) console.warn(`${PYTHON} not found: skipping the Python copilot script (it needs only the standard library)`);

  it.skipIf(!hasPython)(`serves the copilot's Python client (stdlib urllib only): status, tools, acquire, refused move, execute${hasPython ? "" : ` [skipped: no ${PYTHON}]`}`, async () => {
    const { stdout } = await run(PYTHON, [COPILOT_SCRIPT, base], { timeout: 240_000 }).catch((err: { stderr?: string; stdout?: string }) => {
      throw new Error(`the copilot script failed:\n${err.stderr ?? ""}${err.stdout ?? ""}`);
    });
    const seen = JSON.parse(stdout.trim().split("\n").at(-1)!);
    expect(seen.acquire.path.startsWith(system.storage)).toBe(true);
    expect(seen.refused_move).toMatch(/x/);
    expect(Math.max(...seen.mip_jpeg)).toBeLessThanOrEqual(800);
  }, 300_000);

  it.skipIf(!hasPython)("the README's Python example works as written (on this test's port, 4 slices)", async () => {
    const readme = readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
    const example = /\*\*HTTP from Python[\s\S]*?```python\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(example, "the README's Python example").toBeDefined();
    const script = example!.replace("127.0.0.1:60610", `127.0.0.1:${system.apiPort}`).replace('"num_slices": 50', '"num_slices": 4');
    const { stdout } = await run(PYTHON, ["-c", script], { timeout: 120_000 });
    const [success, file] = stdout.trim().split(" ");
    expect(success).toBe("True");
    expect(existsSync(file)).toBe(true);
  });

  it("runs under the copilot's NATS account, which cannot reach a hardware subject", async () => {
    // what the supervisor handed the API process
    const environ = readFileSync(`/proc/${system.pidOf("api")}/environ`, "utf8").split("\0");
    expect(environ).toContain("GENTLY_NATS_USER=copilot");
    expect(environ).toContain(`GENTLY_NATS_PASSWORD=${system.credentials.copilot}`);
    // and that account is refused gently.hw.* by the server itself
    const nc = await system.connectAs("copilot");
    try {
      await expect(nc.request(hw.move.subject, JSON.stringify({ axis: "xy", x_um: 900, y_um: 0 }), { timeout: 2_000 })).rejects.toThrow(/permission|no responders|timeout/i);
    } finally {
      await nc.close();
    }
  });

  it("offers no way to a hardware subject: a subject or hardware name as a plan is refused, nothing moves", async () => {
    const before = (await (await fetch(`${base}/api/devices/state`)).json()) as DevicesState;
    for (const name of ["gently.hw.move", "hw.move", "move_xy"]) {
      const res = await fetch(`${base}/api/microscope/execute`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ plan: name, params: { axis: "xy", x_um: 900, y_um: 0 } }),
      });
      const body = (await res.json()) as Refusal;
      expect(res.status, name).toBe(422);
      expect(body.error.code, name).toBe("unknown_plan");
      expect(body.msg, name).toMatch(/acquire_volume/);
    }
    const after = (await (await fetch(`${base}/api/devices/state`)).json()) as DevicesState;
    expect(after.positions).toEqual(before.positions);
  });

  it("refuses bad requests as JSON naming the field", async () => {
    const cases: [string, RequestInit, number, string][] = [
      ["/api/queue/item/add", { method: "POST", body: "{not json" }, 400, "body"],
      ["/api/queue/item/add", { method: "POST", body: JSON.stringify({ item: { kwargs: {} } }) }, 400, "item.name"],
      ["/api/microscope/execute", { method: "POST", body: JSON.stringify({ plan: "acquire", params: { num_slices: 4, wobble: 1 } }) }, 400, ""],
      ["/api/camera/exposure", { method: "POST", body: JSON.stringify({ exposure_ms: 20_000 }) }, 400, "exposure_ms"],
      ["/api/microscope?set=some", {}, 400, "set"],
      ["/api/status", { method: "DELETE" }, 400, "method"],
      ["/api/nothing", {}, 404, "path"],
      ["/api/images/not-a-uid/mip.jpg", {}, 400, "uid"],
      ["/api/images/000000000000000000000/mip.jpg?max=5", {}, 400, "max"],
    ];
    for (const [url, init, status, field] of cases) {
      const res = await fetch(base + url, { ...init, headers: { "Content-Type": "application/json" } });
      const body = (await res.json()) as Refusal;
      expect(res.status, url).toBe(status);
      expect(body.success, url).toBe(false);
      if (field) expect(body.error.field, url).toBe(field);
      else expect(body.error.message, url).toMatch(/wobble/);
    }
  });

  it("bound beyond loopback (GENTLY_API_HOST), requires its token; the Python copilot passes it as a bearer token", async () => {
    const token = "api-test-token-0123456789";
    const port = await freePort();
    const exposed = spawnService("api", {
      ...system.env,
      GENTLY_NATS_USER: "copilot",
      GENTLY_NATS_PASSWORD: system.credentials.copilot,
      GENTLY_API_PORT: String(port),
      GENTLY_API_HOST: "0.0.0.0",
      GENTLY_API_TOKEN: token,
    });
    try {
      await exposed.waitForLog((l) => l.includes('"msg":"started"'), 30_000);
      const bare = await fetch(`http://127.0.0.1:${port}/api/status`);
      expect(bare.status).toBe(401);
      expect(((await bare.json()) as Refusal).error.field).toBe("token");
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      const authorized = await fetch(`http://127.0.0.1:${port}/api/status`, { headers: { Authorization: `Bearer ${token}` } });
      expect(authorized.status).toBe(200);
      if (hasPython) await run(PYTHON, [COPILOT_SCRIPT, `http://127.0.0.1:${port}`], { env: { ...process.env, GENTLY_API_TOKEN: token }, timeout: 240_000 });
    } finally {
      await exposed.stop();
    }
  });

  it("answers hundreds of random malformed requests with JSON refusals (never a 500), and nothing moves", async () => {
    let seed = 0x5eed15;
    const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
    const junk = (depth = 0): unknown => {
      const kind = Math.floor(random() * (depth > 2 ? 5 : 7));
      if (kind === 0) return null;
      if (kind === 1) return pick([true, false]);
      if (kind === 2) return pick([0, -1, 1e308, -1e-9, 2 ** 53, 42.5, Number.MAX_SAFE_INTEGER]);
      if (kind === 3) return pick(["", "Open", "ALL OFF", "../../etc/passwd", "x".repeat(2000), "\u0000", "gently.hw.move"]);
      if (kind === 4) return pick(["0123456789abcdefghijk", "HamCam1"]);
      if (kind === 5) return Array.from({ length: Math.floor(random() * 4) }, () => junk(depth + 1));
      return Object.fromEntries(Array.from({ length: Math.floor(random() * 4) }, () => [pick(["x", "y", "state", "num_slices", "plan", "item", "kwargs", "params", "exposure_ms"]), junk(depth + 1)]));
    };
    const names = [...copilotTools().map((t) => t.name), ...PLAN_NAMES, "gently.hw.move", "", "status.>"];
    const before = (await (await fetch(`${base}/api/devices/state`)).json()) as DevicesState;
    for (let i = 0; i < 300; i++) {
      // every run request carries a key no schema allows, so whatever else it holds, it is refused before anything runs
      const params = { ...(junk() as object), fuzz_key_no_schema_has: 1 };
      const [url, body] = pick([
        ["/api/microscope/execute", { plan: pick(names), params }],
        ["/api/queue/item/add", { item: { name: pick(names), kwargs: params } }],
        ["/api/queue/item/add", junk()],
        ["/api/microscope/execute", junk()],
        ["/api/camera/exposure", { exposure_ms: junk() }],
        ["/api/led/set", { state: junk() }],
      ] as const);
      const res = await fetch(base + url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      const reply = (await res.json()) as Refusal & { success: boolean };
      const label = `${url} ${JSON.stringify(body).slice(0, 300)} -> ${res.status} ${JSON.stringify(reply).slice(0, 300)}`;
      expect(res.status, label).toBeLessThan(500);
      if (url === "/api/camera/exposure" && res.status === 200) continue; // a number in range is a valid exposure
      if (url === "/api/led/set" && res.status === 200) continue; // "Open" is a valid LED state
      expect(reply.success, label).toBe(false);
      expect(reply.error.message, label).toBeTruthy();
    }
    const after = (await (await fetch(`${base}/api/devices/state`)).json()) as DevicesState;
    expect(after.positions).toEqual(before.positions);
  });

  it("rides out a NATS restart: the same process answers again once NATS is back", async () => {
    const pid = system.pidOf("api");
    await system.nats.restart();
    await waitFor(async () => (await fetch(`${base}/api/status`)).status === 200, 30_000, "the API to answer after the NATS restart");
    expect(system.pidOf("api")).toBe(pid);
    const res = await fetch(`${base}/api/microscope/execute`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ plan: "get_position", params: {} }) });
    expect(((await res.json()) as { success: boolean }).success).toBe(true);
  });

  it("listens on 127.0.0.1 and refuses a Host that is not its own (DNS rebinding)", async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port: system.apiPort, path: "/api/status", headers: { Host: "attacker.example" } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.end();
    });
    expect(status).toBe(403);
  });
});
