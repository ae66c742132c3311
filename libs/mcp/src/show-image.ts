import { z } from "zod";
import { highAboveLow, PreviewOptionFields } from "@gently/preview";
import { Uid, type ToolDefinition } from "@gently/protocol";

/** show_image: a volume or image as the JPEG the model sees, with the same options as the viz routes. */
export const ShowImageParams = PreviewOptionFields.extend({
  uid: Uid.describe("uid of a volume or image, as a plan's result names it"),
  view: z.enum(["mip", "slice"]).default("mip").describe("maximum projection along z, or one slice"),
  z: z.number().int().min(0).optional().describe("slice index for view 'slice' (default 0)"),
})
  .strict()
  .refine(...highAboveLow);

export const SHOW_IMAGE_TOOL: ToolDefinition = {
  name: "show_image",
  description:
    "Show a volume or image by uid as a JPEG you can see: its maximum projection (or one slice), stretched between the 1st and 99.5th percentile, at most 800 px. Dual-camera volumes show both cameras side by side unless channel picks one.",
  input_schema: z.toJSONSchema(ShowImageParams, { io: "input" }) as Record<string, unknown>,
};
