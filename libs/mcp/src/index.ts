export { createGentlyMcpServer, MAX_IMAGES_PER_RESULT, RECENT_VOLUMES, type GentlyMcpOptions } from "./mcp-server";
