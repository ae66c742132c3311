import { GentlyError } from "@gently/protocol";
import type { ApiHandler } from "./context";
import { getMipJpeg, getSliceJpeg } from "./images-api";
import { getHistory, getMicroscopeTools, postExecute, postQueueItemAdd } from "./run-api";
import { getDevices, getDevicesState, getExposure, getLedStatus, getPlans, getStatus, postExposure, postLedSet } from "./state-api";

interface Route {
  method: "GET" | "POST";
  pattern: RegExp;
  handler: ApiHandler;
}

const SEGMENT = "([^/]+)";

/** The routes the existing copilot's client calls, and the images it shows the model. */
export const ROUTES: Route[] = [
  { method: "GET", pattern: /^\/api\/status$/, handler: getStatus },
  { method: "POST", pattern: /^\/api\/queue\/item\/add$/, handler: postQueueItemAdd },
  { method: "GET", pattern: /^\/api\/microscope$/, handler: getMicroscopeTools },
  { method: "POST", pattern: /^\/api\/microscope\/execute$/, handler: postExecute },
  { method: "GET", pattern: /^\/api\/history$/, handler: getHistory },
  { method: "GET", pattern: /^\/api\/plans$/, handler: getPlans },
  { method: "GET", pattern: /^\/api\/devices$/, handler: getDevices },
  { method: "GET", pattern: /^\/api\/devices\/state$/, handler: getDevicesState },
  { method: "GET", pattern: /^\/api\/camera\/exposure$/, handler: getExposure },
  { method: "POST", pattern: /^\/api\/camera\/exposure$/, handler: postExposure },
  { method: "GET", pattern: /^\/api\/led\/status$/, handler: getLedStatus },
  { method: "POST", pattern: /^\/api\/led\/set$/, handler: postLedSet },
  { method: "GET", pattern: new RegExp(`^/api/images/${SEGMENT}/mip\\.jpg$`), handler: getMipJpeg },
  { method: "GET", pattern: new RegExp(`^/api/images/${SEGMENT}/slice/${SEGMENT}\\.jpg$`), handler: getSliceJpeg },
];

/** The handler and decoded path parameters; a known path with another method is refused naming the allowed ones. */
export function matchRoute(method: string, rawPath: string): { handler: ApiHandler; params: string[] } {
  const allowed: string[] = [];
  for (const route of ROUTES) {
    const m = route.pattern.exec(rawPath);
    if (!m) continue;
    if (route.method === method) return { handler: route.handler, params: m.slice(1).map(decodeSegment) };
    allowed.push(route.method);
  }
  if (allowed.length > 0) throw new GentlyError("invalid_request", `method: ${method} is not allowed here (allowed: ${allowed.join(", ")})`, "method");
  throw new GentlyError("not_found", `path: no such API: ${rawPath.slice(0, 200)}`, "path");
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new GentlyError("invalid_request", `path: segment ${JSON.stringify(segment.slice(0, 64))} is not valid percent-encoding`, "path");
  }
}
