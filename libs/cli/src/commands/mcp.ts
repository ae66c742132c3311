import { createRequire } from "node:module";
import type { Command } from "../command";
import { EXIT } from "../exit-codes";
import { connectClient } from "./connect-client";

const VERSION: string = (createRequire(import.meta.url)("../../package.json") as { version: string }).version;

/**
 * `gently mcp`: the microscope as a Model Context Protocol server on stdin/stdout,
 * for any MCP-capable agent. It connects with the copilot's account (like every
 * client) and logs to stderr: stdout carries the protocol only.
 */
export const mcpCommand: Command = {
  name: "mcp",
  summary: "serve the plans as MCP tools over stdio (for agents: Claude Desktop, Claude Code, ...), volumes as images",
  options: {},
  async run() {
    const [{ StdioServerTransport }, { createLogger }, { createGentlyMcpServer }] = await Promise.all([
      import("@modelcontextprotocol/sdk/server/stdio.js"),
      import("@gently/bus"),
      import("@gently/mcp"),
    ]);
    const logger = createLogger("mcp", process.env.GENTLY_LOG_LEVEL ?? "warn", true);
    const client = await connectClient();
    const server = createGentlyMcpServer({ client, logger, version: VERSION });
    const closed = new Promise<void>((resolve) => {
      server.onclose = () => resolve();
    });
    await server.connect(new StdioServerTransport());
    logger.info("MCP server on stdio");
    // the agent ends the session by closing our stdin
    process.stdin.once("end", () => void server.close());
    await closed;
    await client.close().catch(() => undefined);
    return EXIT.ok;
  },
};
