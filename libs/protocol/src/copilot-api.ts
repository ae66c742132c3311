import { z } from "zod";
import { LedPreset, SessionId } from "./common";

/**
 * Bodies of the HTTP API the existing Python copilot calls (services/api,
 * port 60610). Tool and plan parameters inside them are checked by the
 * plan's own schema when the plan is submitted.
 */

const PlanParamsObject = z.record(z.string(), z.unknown()).default({});

/** POST /api/queue/item/add: run a plan (or a copilot tool) and answer when it has ended. */
export const QueueItemAddRequest = z
  .object({
    item: z
      .object({
        name: z.string().min(1).max(64).describe("plan or copilot tool name"),
        kwargs: PlanParamsObject.describe("its parameters"),
        item_type: z.literal("plan").optional(),
      })
      .strict(),
    session_id: SessionId.optional(),
  })
  .strict();
export type QueueItemAddRequest = z.output<typeof QueueItemAddRequest>;

/** POST /api/microscope/execute: run one tool of GET /api/microscope. */
export const ExecuteRequest = z
  .object({
    plan: z.string().min(1).max(64).describe("tool name"),
    params: PlanParamsObject,
    session_id: SessionId.optional(),
  })
  .strict();
export type ExecuteRequest = z.output<typeof ExecuteRequest>;

/** POST /api/camera/exposure: the exposure used by tool calls that give none. */
export const ExposureRequest = z.object({ exposure_ms: z.number().positive().max(10_000).describe("exposure in milliseconds, >0-10000") }).strict();

/** POST /api/led/set */
export const LedSetRequest = z.object({ state: LedPreset }).strict();
