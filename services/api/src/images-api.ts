import { filePreview, previewOptionsOf, PreviewQuery, type PreviewView } from "@gently/preview";
import { GentlyError, Uid } from "@gently/protocol";
import type { ApiHandler } from "./context";
import { parseQuery } from "./query";

/** Largest slice index a path may name; the volume's own depth is checked when it is read. */
const MAX_Z = 99_999;

async function sendPreview(ctx: Parameters<ApiHandler>[0], request: Parameters<ApiHandler>[1], view: PreviewView): Promise<void> {
  const { res, url, params } = request;
  const uid = Uid.safeParse(params[0]);
  if (!uid.success) throw new GentlyError("invalid_request", `uid: not a gently uid: ${JSON.stringify(params[0].slice(0, 64))}`, "uid");
  const options = previewOptionsOf(parseQuery(url, PreviewQuery));
  const preview = await filePreview(await ctx.client.volumePath(uid.data), view, options);
  res.writeHead(200, { "Content-Type": "image/jpeg", "Content-Length": preview.jpeg.byteLength, "Cache-Control": "private, max-age=86400, immutable" });
  res.end(preview.jpeg);
}

/** GET /api/images/{uid}/mip.jpg: the maximum projection the model is shown (the viz server's route, same function). */
export const getMipJpeg: ApiHandler = (ctx, request) => sendPreview(ctx, request, { kind: "mip" });

/** GET /api/images/{uid}/slice/{z}.jpg */
export const getSliceJpeg: ApiHandler = async (ctx, request) => {
  const zText = request.params[1];
  if (!/^\d{1,5}$/.test(zText)) throw new GentlyError("invalid_request", `z: must be an integer in [0, ${MAX_Z}]`, "z");
  return sendPreview(ctx, request, { kind: "slice", z: Number(zText) });
};
