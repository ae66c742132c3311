import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { NATS_USERS, passwordEnvVar, type NatsUser } from "@gently/protocol";

export type Credentials = Record<NatsUser, string>;

/** Where the one-machine start keeps the generated NATS passwords (0600, directory 0700). */
export function credentialsPath(storage: string): string {
  return path.join(storage, "secrets", "nats-users.json");
}

export function readCredentials(storage: string): Credentials | undefined {
  const file = credentialsPath(storage);
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, "utf8")) as Credentials;
}

/** Reads the stored passwords, generating (atomically, private to the owner) any that are missing. */
export function ensureCredentials(storage: string): Credentials {
  const existing = readCredentials(storage) ?? ({} as Partial<Credentials>);
  const missing = NATS_USERS.filter((user) => !existing[user]);
  if (missing.length === 0) return existing as Credentials;
  const creds = { ...existing } as Credentials;
  // nats-server parses the environment value as a config token: a password
  // must start with a letter and hold no '-' or it is read as a number or fails.
  for (const user of missing) creds[user] = `p${randomBytes(24).toString("hex")}`;
  const file = credentialsPath(storage);
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  chmodSync(path.dirname(file), 0o700);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(creds, null, 2) + "\n", { mode: 0o600 });
  renameSync(tmp, file);
  return creds;
}

/** The environment nats-server needs to resolve the password variables of nats.conf. */
export function passwordEnvironment(creds: Credentials): Record<string, string> {
  return Object.fromEntries(NATS_USERS.map((user) => [passwordEnvVar(user), creds[user]]));
}
