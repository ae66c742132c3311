import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "@gently/bus";
import type { GentlyClient } from "@gently/client";
import type { CopilotDefaults } from "@gently/protocol";

/** What every handler of the HTTP API works with: the copilot's client and nothing more. */
export interface ApiContext {
  client: GentlyClient;
  logger: Logger;
  /** what the copilot's tool calls get where they leave a parameter out (the exposure set with /api/camera/exposure) */
  defaults: CopilotDefaults;
}

export interface ApiRequest {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /** decoded path parameters in route order */
  params: string[];
}

export type ApiHandler = (ctx: ApiContext, request: ApiRequest) => Promise<void>;
