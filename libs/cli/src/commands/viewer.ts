import path from "node:path";
import { VIZ_HTTP_ENV, httpGuardSettings, readyUrl } from "@gently/http-guard";
import { EXIT } from "../exit-codes";
import type { Command } from "../command";

export const viewerCommand: Command = {
  name: "viewer",
  summary: "print the viewer's URL, with its token when it listens beyond localhost (GENTLY_HTTP_HOST); run it on the viewer's host",
  options: {
    host: { type: "string", description: "host name to put in the URL (default: localhost, or the bound address)" },
    storage: { type: "string", description: "storage root holding secrets/viz-http-token (default GENTLY_STORAGE or ./storage)" },
  },
  async run({ values, json }) {
    const { loadConfig } = await import("@gently/bus");
    const config = loadConfig();
    const storage = path.resolve(String(values.storage ?? config.storage));
    const settings = httpGuardSettings(VIZ_HTTP_ENV, storage);
    const url = readyUrl(settings, config.httpPort, values.host === undefined ? undefined : String(values.host));
    process.stdout.write(json ? JSON.stringify({ url, host: settings.host, port: config.httpPort, token_required: settings.token !== null }) + "\n" : url + "\n");
    return EXIT.ok;
  },
};
