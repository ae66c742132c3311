import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { NATS_USERS } from "@gently/protocol";
import { tempStorage } from "@gently/testing";
import { accountSecretPath, ensureCredentials, passwordEnvironment, readCredentials } from "./credentials";

describe("one secret file per NATS account", () => {
  const storages: { remove(): void }[] = [];
  const storage = () => {
    const s = tempStorage("gently-credentials-");
    storages.push(s);
    return s.dir;
  };
  afterEach(() => storages.splice(0).forEach((s) => s.remove()));

  it("generates one private file per account, and the same passwords on every later call", () => {
    const dir = storage();
    const creds = ensureCredentials(dir);
    expect(Object.keys(creds).sort()).toEqual([...NATS_USERS].sort());
    for (const user of NATS_USERS) expect(statSync(accountSecretPath(dir, user)).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(dir, "secrets")).mode & 0o777).toBe(0o700);
    expect(ensureCredentials(dir)).toEqual(creds);
  });

  it("splits the old all-in-one nats-users.json into per-account files and removes it", () => {
    const dir = storage();
    mkdirSync(path.join(dir, "secrets"), { recursive: true });
    const legacy = path.join(dir, "secrets", "nats-users.json");
    const old = Object.fromEntries(NATS_USERS.map((u) => [u, `pold${u.replace("-", "")}`]));
    writeFileSync(legacy, JSON.stringify(old), { mode: 0o600 });
    expect(ensureCredentials(dir)).toEqual(old);
    expect(existsSync(legacy)).toBe(false);
  });

  it("on a host given only the copilot's file, reads the copilot's password alone", () => {
    const dir = storage();
    mkdirSync(path.join(dir, "secrets"), { recursive: true });
    writeFileSync(accountSecretPath(dir, "copilot"), "pcopilotonly\n", { mode: 0o600 });
    expect(readCredentials(dir)).toEqual({ copilot: "pcopilotonly" });
    expect(passwordEnvironment(readCredentials(dir))).toEqual({ GENTLY_PW_COPILOT: "pcopilotonly" });
  });
});
