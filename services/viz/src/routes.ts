import { GentlyError } from "@gently/protocol";
import { getDetections, getRun, getVolumes } from "./catalog-api";
import type { RouteHandler } from "./context";
import { getEvents } from "./events-api";
import { sendJson } from "./http-response";
import { getImage, getMip, getMipJpeg, getRaw, getSlice, getSliceJpeg } from "./images-api";
import { getMipSamples, getSliceSamples, getXzSamples, getYzSamples } from "./samples-api";

interface Route {
  pattern: RegExp;
  handler: RouteHandler;
  methods: readonly string[];
}

const GET = ["GET", "HEAD"] as const;
const SEGMENT = "([^/]+)";

/** The HTTP API. Patterns match the raw (still percent-encoded) path; captured segments are decoded after matching. */
export const ROUTES: Route[] = [
  { pattern: /^\/healthz$/, handler: async (_ctx, { res }) => sendJson(res, 200, { ok: true }), methods: GET },
  { pattern: new RegExp(`^/api/images/${SEGMENT}$`), handler: getImage, methods: GET },
  { pattern: new RegExp(`^/api/images/${SEGMENT}/slice/${SEGMENT}\\.png$`), handler: getSlice, methods: GET },
  { pattern: new RegExp(`^/api/images/${SEGMENT}/mip\\.png$`), handler: getMip, methods: GET },
  { pattern: new RegExp(`^/api/images/${SEGMENT}/slice/${SEGMENT}\\.jpg$`), handler: getSliceJpeg, methods: GET },
  { pattern: new RegExp(`^/api/images/${SEGMENT}/mip\\.jpg$`), handler: getMipJpeg, methods: GET },
  { pattern: new RegExp(`^/api/images/${SEGMENT}/raw$`), handler: getRaw, methods: GET },
  { pattern: new RegExp(`^/api/images/${SEGMENT}/slice/${SEGMENT}\\.bin$`), handler: getSliceSamples, methods: GET },
  { pattern: new RegExp(`^/api/images/${SEGMENT}/mip\\.bin$`), handler: getMipSamples, methods: GET },
  { pattern: new RegExp(`^/api/images/${SEGMENT}/xz/${SEGMENT}\\.bin$`), handler: getXzSamples, methods: GET },
  { pattern: new RegExp(`^/api/images/${SEGMENT}/yz/${SEGMENT}\\.bin$`), handler: getYzSamples, methods: GET },
  { pattern: /^\/api\/volumes$/, handler: getVolumes, methods: GET },
  { pattern: new RegExp(`^/api/runs/${SEGMENT}$`), handler: getRun, methods: GET },
  { pattern: new RegExp(`^/api/detections/${SEGMENT}$`), handler: getDetections, methods: GET },
  { pattern: /^\/api\/events$/, handler: getEvents, methods: ["GET"] },
];

export type RouteMatch = { handler: RouteHandler; params: string[] } | { allowed: readonly string[] };

/** The route for a path and method, the methods the path allows, or null when no route has this path. */
export function matchRoute(method: string, rawPath: string): RouteMatch | null {
  for (const route of ROUTES) {
    const m = route.pattern.exec(rawPath);
    if (!m) continue;
    if (!route.methods.includes(method)) return { allowed: route.methods };
    return { handler: route.handler, params: m.slice(1).map(decodeSegment) };
  }
  return null;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new GentlyError("invalid_request", `path: segment ${JSON.stringify(segment.slice(0, 64))} is not valid percent-encoding`, "path");
  }
}
