import {
  COPILOT_TOOL_NAMES,
  DEVICES,
  ExposureRequest,
  GentlyError,
  LedSetRequest,
  PLAN_NAMES,
  planCallOf,
  type RunnerStatus,
} from "@gently/protocol";
import type { ApiContext, ApiHandler } from "./context";
import { readBody, sendJson } from "./http-io";
import { runToEnd, type RunReport } from "./plan-run";

/** The devices by role and their labels in the microscope's configuration. */
function deviceList(): { role: string; name: string }[] {
  return Object.entries(DEVICES).flatMap(([role, label]) => (Array.isArray(label) ? label.map((name: string) => ({ role, name })) : [{ role, name: label as string }]));
}

/** The copilot's RunEngine vocabulary for the plan runner's state. */
function engineStates(state: RunnerStatus["state"]): { manager_state: string; re_state: string } {
  if (state === "idle") return { manager_state: "idle", re_state: "idle" };
  if (state === "paused") return { manager_state: "paused", re_state: "paused" };
  return { manager_state: "executing_queue", re_state: "running" };
}

/** GET /api/status: {manager_state, re_state, devices[], plans[], queue_size} and what runs now. */
export const getStatus: ApiHandler = async (ctx, { res }) => {
  const [runner, queue] = await Promise.all([ctx.client.status(), ctx.client.queue()]);
  sendJson(res, 200, {
    ...engineStates(runner.state),
    devices: deviceList().map((d) => d.name),
    plans: [...new Set([...COPILOT_TOOL_NAMES, ...PLAN_NAMES])],
    queue_size: queue.queued.length,
    running_item_uid: runner.current?.run_uid ?? null,
    runs_finished: runner.finished,
  });
};

/** GET /api/plans: gently's plans and the copilot's tool names, each with its JSON Schema. */
export const getPlans: ApiHandler = async (ctx, { res }) => {
  const plans = await ctx.client.tools();
  sendJson(res, 200, { plans, copilot_tools: COPILOT_TOOL_NAMES });
};

/** GET /api/devices */
export const getDevices: ApiHandler = async (_ctx, { res }) => {
  sendJson(res, 200, { devices: deviceList() });
};

/** Runs a read-only plan (it runs at once, beside a queued acquisition) and returns its summary. */
async function readPlan(ctx: ApiContext, name: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const report: RunReport = await runToEnd(ctx.client, planCallOf(name, params, ctx.defaults));
  if (!report.success || !report.result) throw new GentlyError("device_error", `${name} failed: ${report.msg || "no result"}`);
  return report.result;
}

/** GET /api/devices/state: {positions, properties, t}, read back from the hardware (the status plan). */
export const getDevicesState: ApiHandler = async (ctx, { res }) => {
  const status = await readPlan(ctx, "status");
  sendJson(res, 200, {
    positions: status.position,
    properties: { laser_config: status.laser_config, led: status.led, cameras: status.cameras, limits: status.limits },
    t: Date.now() / 1000,
  });
};

/** GET /api/camera/exposure: the exposure tool calls get when they give none. */
export const getExposure: ApiHandler = async (ctx, { res }) => {
  sendJson(res, 200, { exposure_ms: ctx.defaults.exposure_ms });
};

/** POST /api/camera/exposure {exposure_ms}: gently's plans carry their exposure, so this sets the one used when a tool call gives none. */
export const postExposure: ApiHandler = async (ctx, { req, res }) => {
  const { exposure_ms } = await readBody(req, ExposureRequest);
  ctx.defaults.exposure_ms = exposure_ms;
  sendJson(res, 200, { success: true, exposure_ms });
};

/** GET /api/led/status: {state: "Open"|"Closed"} as the hardware reports it. */
export const getLedStatus: ApiHandler = async (ctx, { res }) => {
  const illumination = await readPlan(ctx, "get_illumination");
  sendJson(res, 200, { state: illumination.led, laser_config: illumination.laser_config });
};

/** POST /api/led/set {state}: through the set_illumination plan. */
export const postLedSet: ApiHandler = async (ctx, { req, res }) => {
  const { state } = await readBody(req, LedSetRequest);
  const report = await runToEnd(ctx.client, planCallOf("set_illumination", { state }, ctx.defaults));
  sendJson(res, report.success ? 200 : 502, { success: report.success, msg: report.msg, state, uid: report.uid });
};
