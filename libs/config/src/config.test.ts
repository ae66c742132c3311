import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { describeConfig, ENV_VARIABLES, envValue, FatalConfigError } from "./index";

const REPO_ROOT = fileURLToPath(new URL("../../..", import.meta.url));

/**
 * Names that look like variables but are not settings of a gently process: stream names, constants,
 * FFI type names, prefixes in prose; GENTLY_PW_<ACCOUNT> are the accounts' passwords that nats-server
 * reads (nats.conf), written by `gently credentials`.
 */
const NOT_VARIABLES = new Set(["GENTLY_DATA", "GENTLY_RUNS", "GENTLY_ANNOTATION_NS", "GENTLY_OVERLAPPED", "GENTLY_FILE_HANDLE", "GENTLY_HTTP", "GENTLY_API", "GENTLY_PW"]);

function productionFiles(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir)) {
    const file = path.join(dir, entry);
    if (statSync(file).isDirectory()) productionFiles(file, out);
    else if (/\.(ts|mjs|js)$/.test(entry) && !/\.test\.ts$/.test(entry)) out.push(file);
  }
  return out;
}

describe("GENTLY_* configuration", () => {
  it("gives the default when a variable is unset or blank, else the parsed value", () => {
    expect(envValue("GENTLY_RING_SLOTS", {})).toBe(16);
    expect(envValue("GENTLY_RING_SLOTS", { GENTLY_RING_SLOTS: "  " })).toBe(16);
    expect(envValue("GENTLY_RING_SLOTS", { GENTLY_RING_SLOTS: " 64 " })).toBe(64);
    expect(envValue("GENTLY_CONFIG", {})).toBeUndefined();
    expect(envValue("GENTLY_HTTP_ALLOWED_HOSTS", { GENTLY_HTTP_ALLOWED_HOSTS: "scope-pc, lab.example.org," })).toEqual(["scope-pc", "lab.example.org"]);
    expect(envValue("GENTLY_WRITER_RESERVE_BYTES", { GENTLY_WRITER_RESERVE_BYTES: "0" })).toBe(0);
  });

  it("refuses a bad value as a fatal configuration error naming the variable, the value and the rule", () => {
    const refusal = (env: Record<string, string>, name: keyof typeof ENV_VARIABLES) => {
      try {
        envValue(name, env);
      } catch (err) {
        expect(err).toBeInstanceOf(FatalConfigError);
        return (err as Error).message;
      }
      throw new Error(`${name} was accepted`);
    };
    expect(refusal({ GENTLY_RING_SLOTS: "1" }, "GENTLY_RING_SLOTS")).toBe("GENTLY_RING_SLOTS='1' must be at least 2 (whole number 2-4096)");
    expect(refusal({ GENTLY_NATS_PORT: "70000" }, "GENTLY_NATS_PORT")).toBe("GENTLY_NATS_PORT='70000' must be at most 65535 (whole number 1-65535)");
    expect(refusal({ GENTLY_JS_REPLICAS: "three" }, "GENTLY_JS_REPLICAS")).toBe("GENTLY_JS_REPLICAS='three' must be a whole number 1-5");
    expect(refusal({ GENTLY_SSE_MAX: "1.5" }, "GENTLY_SSE_MAX")).toBe("GENTLY_SSE_MAX='1.5' must be a whole number 1-100000");
    expect(refusal({ GENTLY_LOG_FORMAT: "xml" }, "GENTLY_LOG_FORMAT")).toBe("GENTLY_LOG_FORMAT='xml' must be one of json, human");
  });

  it("says where each value came from, and never shows a secret", () => {
    const rows = describeConfig({ GENTLY_STORAGE: "/data/gently", GENTLY_NATS_PASSWORD: "hunter2-hunter2", GENTLY_RING_SLOTS: "0" });
    const row = (name: string) => rows.find((r) => r.name === name)!;
    expect(row("GENTLY_STORAGE")).toMatchObject({ value: "/data/gently", source: "environment" });
    expect(row("GENTLY_NATS_PORT")).toMatchObject({ value: "4222", source: "default" });
    expect(row("GENTLY_JETSTREAM_DIR")).toMatchObject({ value: "{storage}/nats", source: "default" });
    expect(row("GENTLY_CONFIG")).toMatchObject({ value: "", source: "unset" });
    expect(row("GENTLY_NATS_PASSWORD")).toMatchObject({ value: "(set)", source: "environment" });
    expect(JSON.stringify(rows)).not.toContain("hunter2");
    expect(row("GENTLY_RING_SLOTS")).toMatchObject({ value: "0", source: "environment", problem: "GENTLY_RING_SLOTS='0' must be at least 2 (whole number 2-4096)" });
  });

  it("covers every GENTLY_* variable production code names", () => {
    const named = new Set<string>();
    for (const top of ["libs", "services"]) {
      for (const pkg of readdirSync(path.join(REPO_ROOT, top))) {
        if (top === "libs" && pkg === "testing") continue;
        for (const sub of ["src", "bin"]) {
          const dir = path.join(REPO_ROOT, top, pkg, sub);
          if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) continue;
          for (const file of productionFiles(dir)) {
            for (const match of readFileSync(file, "utf8").matchAll(/\bGENTLY_[A-Z0-9_]*[A-Z0-9]/g)) named.add(match[0]);
          }
        }
      }
    }
    const missing = [...named].filter((name) => !NOT_VARIABLES.has(name) && !name.startsWith("GENTLY_PW_") && !(name in ENV_VARIABLES)).sort();
    expect(missing).toEqual([]);
  });
});
