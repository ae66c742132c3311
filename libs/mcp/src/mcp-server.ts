import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import {
  CallToolRequestSchema,
  ListResourcesRequestSchema,
  ListToolsRequestSchema,
  ReadResourceRequestSchema,
  type CallToolResult,
  type ServerNotification,
} from "@modelcontextprotocol/sdk/types.js";
import { call, type Logger } from "@gently/bus";
import type { GentlyClient, RunResult } from "@gently/client";
import { filePreview, PreviewOptions, type PreviewView } from "@gently/preview";
import {
  copilotTools,
  datastore,
  GentlyError,
  inCallersTerms,
  planCallOf,
  Uid,
  type PlanCall,
  type RunProgress,
  type ToolDefinition,
} from "@gently/protocol";
import { ShowImageParams, SHOW_IMAGE_TOOL } from "./show-image";

/** Volumes a tool result shows the model as images: the copilot has always shown the last five. */
export const MAX_IMAGES_PER_RESULT = 5;
/** Recent volumes offered as resources. */
export const RECENT_VOLUMES = 20;
const VOLUME_URI = "gently://volumes/";

export interface GentlyMcpOptions {
  client: GentlyClient;
  logger: Logger;
  version: string;
}

/**
 * The microscope as an MCP server: one tool per allow-listed plan (its own
 * JSON Schema), the existing copilot's tool names beside them, show_image,
 * and recent volumes as resources. Everything goes through the copilot's
 * client, so an agent here may do exactly what the copilot may.
 */
export function createGentlyMcpServer(opts: GentlyMcpOptions): Server {
  const { client, logger } = opts;
  const server = new Server(
    { name: "gently", version: opts.version },
    {
      capabilities: { tools: {}, resources: {} },
      instructions:
        "Drives a light-sheet microscope through allow-listed plans. Every target is checked against the instrument's limits before anything moves. Results name files by uid and path; volumes are shown as maximum-projection JPEGs.",
    },
  );

  let tools: ToolDefinition[] | null = null;
  const listTools = async (): Promise<ToolDefinition[]> => {
    if (!tools) {
      const plans = await client.tools();
      const planNames = new Set(plans.map((t) => t.name));
      // the copilot's names that are not plan names too (move, acquire, snap, ...)
      tools = [...plans, ...copilotTools().filter((t) => !planNames.has(t.name)), SHOW_IMAGE_TOOL];
    }
    return tools;
  };

  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: (await listTools()).map((t) => ({ name: t.name, description: t.description, inputSchema: t.input_schema as { type: "object" } })),
  }));

  server.setRequestHandler(CallToolRequestSchema, async (request, extra): Promise<CallToolResult> => {
    const { name, arguments: args = {} } = request.params;
    try {
      if (name === SHOW_IMAGE_TOOL.name) return await showImage(client, args);
      // plan names and the copilot's names alike; where both name a tool (status, set_illumination, ...) they mean the same
      const planCall: PlanCall = planCallOf(name, args);
      const progressToken = request.params._meta?.progressToken;
      const notify = (n: ServerNotification) => extra.sendNotification(n).catch((err) => logger.warn({ err: String(err) }, "progress notification not sent"));
      return await runPlan(client, planCall, {
        signal: extra.signal,
        onProgress:
          progressToken === undefined
            ? undefined
            : (p) => void notify({ method: "notifications/progress", params: { progressToken, progress: p.done, total: p.total, ...(p.message ? { message: p.message } : {}) } }),
        logger,
      });
    } catch (err) {
      const error = err instanceof GentlyError ? err : new GentlyError("internal", String((err as Error)?.message ?? err));
      if (error.code === "internal") logger.error({ err }, `tool ${name} failed unexpectedly`);
      return { isError: true, content: [{ type: "text", text: JSON.stringify(error.toBody()) }] };
    }
  });

  server.setRequestHandler(ListResourcesRequestSchema, async () => {
    const { items } = await call(client.nc, datastore.list, { data_type: "volume", limit: RECENT_VOLUMES });
    return {
      resources: items.map((item) => ({
        uri: VOLUME_URI + item.uid,
        name: `volume ${item.uid}`,
        description: `${item.shape?.join("×") ?? "?"} ${item.dtype ?? ""}, session ${item.session_id ?? "?"}, ${item.created}: maximum projection as JPEG`,
        mimeType: "image/jpeg",
      })),
    };
  });

  server.setRequestHandler(ReadResourceRequestSchema, async (request) => {
    const { uri } = request.params;
    if (!uri.startsWith(VOLUME_URI)) throw new GentlyError("not_found", `uri: not a gently volume: ${uri.slice(0, 200)}`, "uri");
    const uid = Uid.safeParse(uri.slice(VOLUME_URI.length));
    if (!uid.success) throw new GentlyError("invalid_request", `uri: ${JSON.stringify(uri.slice(0, 200))} does not end in a gently uid`, "uri");
    const item = await call(client.nc, datastore.get, { uid: uid.data });
    const preview = await filePreview(await client.volumePath(uid.data), { kind: "mip" }, PreviewOptions.parse({}));
    return {
      contents: [
        { uri, mimeType: "application/json", text: JSON.stringify({ uid: item.uid, path: item.path, shape: item.shape, dtype: item.dtype, session_id: item.session_id, created: item.created }) },
        { uri, mimeType: "image/jpeg", blob: Buffer.from(preview.jpeg).toString("base64") },
      ],
    };
  });

  return server;
}

interface RunOptions {
  signal: AbortSignal;
  onProgress?: (p: RunProgress) => void;
  logger: Logger;
}

/**
 * Submits the plan and follows it to its end. A cancelled request aborts the
 * run (the plan runner stops the sequence and switches the lasers off).
 */
async function runPlan(client: GentlyClient, planCall: PlanCall, opts: RunOptions): Promise<CallToolResult> {
  let handle;
  try {
    handle = await client.submit(planCall.plan, planCall.params, planCall.session_id ? { session_id: planCall.session_id } : {});
  } catch (err) {
    throw err instanceof GentlyError ? inCallersTerms(err, planCall) : err;
  }
  const stopProgress = opts.onProgress ? handle.onProgress(opts.onProgress) : () => undefined;
  const abort = () => {
    opts.logger.info({ run_uid: handle.run_uid }, "tool call cancelled: aborting its run");
    client.abort(handle.run_uid, "cancelled by the MCP client").catch((err) => opts.logger.warn({ err: String(err), run_uid: handle.run_uid }, "abort after cancellation failed"));
  };
  if (opts.signal.aborted) abort();
  else opts.signal.addEventListener("abort", abort, { once: true });
  let result: RunResult;
  try {
    result = await handle.done();
  } finally {
    opts.signal.removeEventListener("abort", abort);
    stopProgress();
  }
  const summary = {
    run_uid: result.run_uid,
    plan: result.plan_name,
    status: result.status,
    reason: result.reason,
    result: result.result,
    volumes: result.volumes,
  };
  const images = [];
  for (const volume of result.volumes.slice(-MAX_IMAGES_PER_RESULT)) {
    const preview = await filePreview(await client.volumePath(volume.uid), { kind: "mip" }, PreviewOptions.parse({}));
    images.push({ type: "image" as const, data: Buffer.from(preview.jpeg).toString("base64"), mimeType: "image/jpeg" });
  }
  return { isError: result.status !== "success", content: [{ type: "text", text: JSON.stringify(summary) }, ...images] };
}

async function showImage(client: GentlyClient, args: Record<string, unknown>): Promise<CallToolResult> {
  const parsed = ShowImageParams.safeParse(args);
  if (!parsed.success) throw GentlyError.fromZod(parsed.error, "", args);
  const { uid, z, view, ...options } = parsed.data;
  const previewView: PreviewView = view === "slice" ? { kind: "slice", z: z ?? 0 } : { kind: "mip" };
  const preview = await filePreview(await client.volumePath(uid), previewView, options);
  return {
    content: [
      { type: "text", text: JSON.stringify({ uid, view: previewView, width: preview.width, height: preview.height, windows: preview.windows }) },
      { type: "image", data: Buffer.from(preview.jpeg).toString("base64"), mimeType: "image/jpeg" },
    ],
  };
}
