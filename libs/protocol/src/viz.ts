import { z } from "zod";
import { endpoint } from "./endpoint";
import { subjects } from "./subjects";

/** What the viz server says about itself over NATS (its pages and pixels are served over HTTP). */
export const VizStatus = z.object({
  /** port the HTTP API and web page listen on */
  http_port: z.number().int().min(1).max(65_535),
  /** browsers following /api/events now */
  sse_clients: z.number().int().min(0),
  uptime_s: z.number().min(0),
});
export type VizStatus = z.infer<typeof VizStatus>;

export const viz = {
  status: endpoint("status", subjects.viz.status, z.object({}), VizStatus, "HTTP port, open event streams and uptime of the viz server"),
} as const;
