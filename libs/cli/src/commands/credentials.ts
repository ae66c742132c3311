import path from "node:path";
import { NATS_USERS, type NatsUser } from "@gently/protocol";
import { EXIT } from "../exit-codes";
import type { Command } from "../command";

export const credentialsCommand: Command = {
  name: "credentials",
  summary:
    "print the NATS passwords as env-file lines (GENTLY_PW_<USER>=…) for nats-server, or with --account one account's GENTLY_NATS_USER/GENTLY_NATS_PASSWORD (e.g. for a copilot host); generates missing ones",
  options: {
    account: { type: "string", description: `only this account's login lines (${NATS_USERS.join(", ")})` },
    storage: { type: "string", description: "storage root holding secrets/nats-<account>.password (default GENTLY_STORAGE or ./storage)" },
  },
  async run({ values, json }) {
    const { ensureCredentials, passwordEnvironment } = await import("@gently/bus");
    const storage = path.resolve(String(values.storage ?? (process.env.GENTLY_STORAGE || "./storage")));
    const account = values.account;
    if (account !== undefined && !(NATS_USERS as readonly unknown[]).includes(account)) {
      process.stderr.write(`--account: '${String(account)}' is not an account of nats.conf (one of ${NATS_USERS.join(", ")})\n`);
      return EXIT.usage;
    }
    const creds = ensureCredentials(storage);
    const env = account
      ? { GENTLY_NATS_USER: account as NatsUser, GENTLY_NATS_PASSWORD: creds[account as NatsUser] }
      : passwordEnvironment(creds);
    process.stdout.write(json ? JSON.stringify(env) + "\n" : Object.entries(env).map(([k, v]) => `${k}=${v}`).join("\n") + "\n");
    return EXIT.ok;
  },
};
