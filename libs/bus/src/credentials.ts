import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { NATS_USERS, passwordEnvVar, type NatsUser } from "@gently/protocol";

export type Credentials = Record<NatsUser, string>;

/**
 * One file per account (0600, directory 0700): the supervisor hands each
 * service only its own password, and a copilot host is given only
 * nats-copilot.password, never another account's.
 */
export function accountSecretPath(storage: string, user: NatsUser): string {
  return path.join(storage, "secrets", `nats-${user}.password`);
}

/** The one file that held every password before; split into per-account files on first use. */
function legacyCredentialsPath(storage: string): string {
  return path.join(storage, "secrets", "nats-users.json");
}

export function readAccountPassword(storage: string, user: NatsUser): string | undefined {
  const file = accountSecretPath(storage, user);
  if (!existsSync(file)) return undefined;
  return readFileSync(file, "utf8").trim() || undefined;
}

/** The passwords of the accounts whose files this storage root holds (on a copilot host: the copilot's alone). */
export function readCredentials(storage: string): Partial<Credentials> {
  const creds: Partial<Credentials> = {};
  for (const user of NATS_USERS) {
    const password = readAccountPassword(storage, user);
    if (password) creds[user] = password;
  }
  return creds;
}

/** Reads every account's password, generating (atomically, private to the owner) any that are missing. */
export function ensureCredentials(storage: string): Credentials {
  const dir = path.join(storage, "secrets");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  splitLegacyFile(storage);
  const creds = readCredentials(storage);
  for (const user of NATS_USERS) {
    // nats-server parses the environment value as a config token: a password
    // must start with a letter and hold no '-' or it is read as a number or fails.
    creds[user] ??= writeSecret(accountSecretPath(storage, user), `p${randomBytes(24).toString("hex")}`);
  }
  return creds as Credentials;
}

function splitLegacyFile(storage: string): void {
  const legacy = legacyCredentialsPath(storage);
  if (!existsSync(legacy)) return;
  const old = JSON.parse(readFileSync(legacy, "utf8")) as Partial<Credentials>;
  for (const user of NATS_USERS) {
    if (old[user] && !readAccountPassword(storage, user)) writeSecret(accountSecretPath(storage, user), old[user]);
  }
  unlinkSync(legacy);
}

function writeSecret(file: string, secret: string): string {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, secret + "\n", { mode: 0o600 });
  renameSync(tmp, file);
  return secret;
}

/** The environment nats-server needs to resolve the password variables of nats.conf. */
export function passwordEnvironment(creds: Partial<Credentials>): Record<string, string> {
  return Object.fromEntries(NATS_USERS.filter((user) => creds[user]).map((user) => [passwordEnvVar(user), creds[user]!]));
}
