import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { spawnTs, tempStorage, waitFor } from "@gently/testing";
import { PassThrough } from "node:stream";
import { HumanConsole, logFormat } from "./human-console";
import { freePort } from "./nats-server";
import { REPO_ROOT } from "./system";

describe("npm start for a person at a terminal", () => {
  it("chooses the output: GENTLY_LOG_FORMAT first, else a summary on a terminal and JSON elsewhere (compose, pipes)", () => {
    expect(logFormat({}, true)).toBe("human");
    expect(logFormat({}, false)).toBe("json");
    expect(logFormat({ GENTLY_LOG_FORMAT: "json" }, true)).toBe("json");
    expect(logFormat({ GENTLY_LOG_FORMAT: "human" }, false)).toBe("human");
    expect(() => logFormat({ GENTLY_LOG_FORMAT: "pretty" }, true)).toThrow(/GENTLY_LOG_FORMAT must be 'json' or 'human', got 'pretty'/);
  });

  it("shows a warning or an error as one readable line naming the service, and keeps info lines to the file", () => {
    const storage = tempStorage();
    const terminal = new PassThrough();
    const shown: string[] = [];
    terminal.on("data", (c: Buffer) => shown.push(...c.toString().split("\n").filter(Boolean)));
    const sink = new HumanConsole(["hardware"], path.join(storage.dir, "logs", "gently.log"), terminal);
    sink.write(JSON.stringify({ level: 30, service: "hardware", msg: "sequence started" }) + "\n");
    sink.write(JSON.stringify({ level: 40, service: "hardware", msg: "stopping the sequence", reason: "owner disappeared" }) + "\n");
    sink.write(JSON.stringify({ level: 50, service: "writer", msg: "volume failed", err: { message: "disk full" } }) + "\n");
    sink.write("a line that is not JSON\n");
    expect(shown.slice(1)).toEqual([
      "  hardware warning: stopping the sequence: owner disappeared",
      "  writer error: volume failed: disk full",
      "a line that is not JSON",
    ]);
    expect(readFileSync(path.join(storage.dir, "logs", "gently.log"), "utf8").split("\n").filter(Boolean)).toHaveLength(4);
    storage.remove();
  });

  it("prints each service as it comes up, then the viewer's URL, and keeps every JSON line in the log file", async () => {
    const storage = tempStorage();
    const httpPort = await freePort();
    const env = {
      GENTLY_STORAGE: storage.dir,
      GENTLY_NATS_PORT: String(await freePort()),
      GENTLY_HTTP_PORT: String(httpPort),
      GENTLY_NATS_URL: "",
      GENTLY_SERVICES: "hardware,writer,viz",
      GENTLY_LOG_FORMAT: "human",
      GENTLY_LOG_LEVEL: "info",
    };
    const supervisor = spawnTs(path.join(REPO_ROOT, "libs/supervisor/src/main.ts"), env);
    try {
      await supervisor.waitForLog((l) => l.startsWith("gently is up"), 60_000);
      const out = supervisor.lines.join("\n");
      expect(out).toMatch(/^gently: starting 3 services; JSON logs in .*gently\.log/m);
      for (const service of ["hardware", "writer", "viz"]) expect(out).toMatch(new RegExp(`^  ✓ ${service}$`, "m"));
      expect(out).toMatch(/^gently is up: hardware, writer, viz$/m);
      expect(out).toMatch(new RegExp(`^  viewer  http://(localhost|127\\.0\\.0\\.1):${httpPort}/$`, "m"));
      // nothing of the JSON stream on the terminal ...
      expect(supervisor.lines.filter((l) => l.startsWith("{"))).toEqual([]);
      // ... it is all in the log file
      const logFile = path.join(storage.dir, "logs", "gently.log");
      expect(existsSync(logFile)).toBe(true);
      const logged = readFileSync(logFile, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { service: string; msg: string });
      expect(logged.some((l) => l.service === "hardware" && l.msg === "started")).toBe(true);
      expect(logged.some((l) => l.service === "supervisor" && l.msg === "system started")).toBe(true);
      expect(await supervisor.stop()).toBe(0);
      await waitFor(() => supervisor.lines.includes("gently: stopped"), 5_000, "the stop line");
    } finally {
      await supervisor.kill();
      storage.remove();
    }
  }, 120_000);
});
