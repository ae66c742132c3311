import path from "node:path";
import { ensureCredentials, passwordEnvironment } from "@gently/bus";
import { EXIT } from "../exit-codes";
import type { Command } from "../command";

export const credentialsCommand: Command = {
  name: "credentials",
  summary: "print the NATS account passwords as env-file lines (GENTLY_PW_<USER>=…), generating any that are missing",
  options: {
    storage: { type: "string", description: "storage root holding secrets/nats-users.json (default GENTLY_STORAGE or ./storage)" },
  },
  async run({ values, json }) {
    const storage = path.resolve(String(values.storage ?? (process.env.GENTLY_STORAGE || "./storage")));
    const env = passwordEnvironment(ensureCredentials(storage));
    process.stdout.write(
      json ? JSON.stringify(env) + "\n" : Object.entries(env).map(([k, v]) => `${k}=${v}`).join("\n") + "\n",
    );
    return EXIT.ok;
  },
};
