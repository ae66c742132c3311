import { GentlyError, SessionId } from "@gently/protocol";
import { z } from "zod";
import type { RouteHandler } from "./context";
import { listVolumes } from "./datastore-client";
import { detectionsOf } from "./detections";
import { sendJson } from "./http-response";
import { intParam, parseQuery } from "./query";
import { readRunDocuments } from "./run-documents";
import { assertUid } from "./storage-paths";

const VolumesQuery = z.object({
  session: SessionId.optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  limit: intParam(1, 1000).optional(),
});

export const getVolumes: RouteHandler = async (ctx, { res, url }) => {
  const q = parseQuery(url, VolumesQuery);
  const items = await listVolumes(ctx.nc, {
    ...(q.session ? { session_id: q.session } : {}),
    // the DataStore takes UTC instants
    ...(q.since ? { since: new Date(q.since).toISOString() } : {}),
    limit: q.limit ?? 100,
  });
  sendJson(res, 200, { items: items.map(({ path: _path, ...rest }) => rest) });
};

export const getRun: RouteHandler = async (ctx, { res, url, params: [runUid] }) => {
  assertUid(runUid, "run_uid");
  parseQuery(url, z.object({}));
  const run = await readRunDocuments(ctx.nc, runUid);
  if (run.documents.length === 0 && run.progress === null) {
    throw new GentlyError("not_found", `no documents or progress for run ${runUid}`, "run_uid");
  }
  sendJson(res, 200, run);
};

export const getDetections: RouteHandler = async (ctx, { res, url, params: [uid] }) => {
  assertUid(uid);
  parseQuery(url, z.object({}));
  const found = await detectionsOf(ctx.nc, ctx.storage, uid);
  // an image without detections is an empty list; a uid with no file either is unknown (404), like on every other route
  if (found.detections.length === 0) await ctx.storage.volumeFile(uid);
  sendJson(res, 200, found);
};
