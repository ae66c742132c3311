import { copilotTools, ExecuteRequest, planCallOf, QueueItemAddRequest } from "@gently/protocol";
import { z } from "zod";
import type { ApiHandler } from "./context";
import { readBody, sendJson } from "./http-io";
import { runToEnd } from "./plan-run";
import { parseQuery } from "./query";

const ToolSet = z.object({ set: z.enum(["copilot", "gently", "all"]).optional() }).strict();

/**
 * GET /api/microscope: the tools in Anthropic's tool format. By default the
 * copilot's own names (move, acquire, snap, ...); `?set=gently` gives
 * gently's plans, `?set=all` both. Either kind of name runs with execute.
 */
export const getMicroscopeTools: ApiHandler = async (ctx, { res, url }) => {
  const { set = "copilot" } = parseQuery(url, ToolSet);
  const tools = [...(set === "gently" ? [] : copilotTools()), ...(set === "copilot" ? [] : await ctx.client.tools())];
  sendJson(res, 200, tools);
};

/** POST /api/microscope/execute {plan, params}: runs one tool (or plan) to its end. */
export const postExecute: ApiHandler = async (ctx, { req, res }) => {
  const body = await readBody(req, ExecuteRequest);
  const report = await runToEnd(ctx.client, planCallOf(body.plan, body.params, ctx.defaults), body.session_id);
  const { documents: _documents, ...summary } = report;
  sendJson(res, 200, summary);
};

/**
 * POST /api/queue/item/add {item: {name, kwargs}}: queues the plan, waits for
 * it to end and answers with its documents. Files are referenced by
 * {uid, path, shape, dtype, session_id}; no pixels travel.
 */
export const postQueueItemAdd: ApiHandler = async (ctx, { req, res }) => {
  const body = await readBody(req, QueueItemAddRequest);
  const report = await runToEnd(ctx.client, planCallOf(body.item.name, body.item.kwargs, ctx.defaults), body.session_id);
  sendJson(res, 200, { ...report, item: { name: body.item.name, kwargs: body.item.kwargs, item_uid: report.uid } });
};

/** GET /api/history?limit=&session_id= */
export const getHistory: ApiHandler = async (ctx, { res, url }) => {
  const query = parseQuery(
    url,
    z
      .object({
        limit: z
          .string()
          .regex(/^\d{1,5}$/, "must be an integer in [1, 10000]")
          .transform(Number)
          .pipe(z.number().int().min(1).max(10_000))
          .optional(),
        session_id: z.string().max(128).optional(),
      })
      .strict(),
  );
  const runs = await ctx.client.history(query);
  sendJson(res, 200, { items: runs });
};

