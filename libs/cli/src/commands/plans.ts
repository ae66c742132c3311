import type { RunResult } from "@gently/client";
import type { PlanName } from "@gently/protocol";
import type { Command } from "../command";
import { EXIT } from "../exit-codes";
import { emit } from "../output";
import { withClient } from "./connect-client";
import { describeResult, exitCodeOf, followRun } from "./follow-run";
import { FlagError, paramsFromFlags, planOptions } from "./plan-flags";

const RUN_OPTIONS: Command["options"] = {
  "session-id": { type: "string", description: "session the data belongs to [default: default]" },
  detach: { type: "boolean", description: "queue the run and print its uid without waiting (follow it with 'gently watch <run>')" },
};

/** --json output: the plan's result and the run uid on success; the run's status and reason otherwise. */
function jsonOf(result: RunResult): Record<string, unknown> {
  if (result.status === "success") return { ...(result.result ?? {}), run_uid: result.run_uid };
  return { run_uid: result.run_uid, status: result.status, reason: result.reason, result: result.result };
}

/** Submits a plan with the given flags, follows it to its end and prints its result. */
async function submitAndFollow(
  plan: PlanName,
  values: Record<string, string | boolean | undefined>,
  json: boolean,
  interrupt: "abort" | "stop" = "abort",
): Promise<number> {
  let params: Record<string, unknown>;
  try {
    params = paramsFromFlags(plan, values);
  } catch (err) {
    if (!(err instanceof FlagError)) throw err;
    process.stderr.write(`${err.message}\n`);
    return EXIT.usage;
  }
  const session_id = typeof values["session-id"] === "string" ? values["session-id"] : undefined;
  return withClient(async (client) => {
    const run = await client.submit(plan, params, session_id ? { session_id } : {});
    if (values.detach) {
      emit(json, { run_uid: run.run_uid, position: run.position }, () => `${run.run_uid} queued at position ${run.position}`);
      return EXIT.ok;
    }
    if (!json && run.position > 0) process.stderr.write(`run ${run.run_uid} waits behind ${run.position} run(s)\n`);
    const result = await followRun(client, run, { json, interrupt });
    emit(json, jsonOf(result), () => describeResult(result));
    return exitCodeOf(result);
  });
}

function planCommand(name: string, plan: PlanName, summary: string, interrupt: "abort" | "stop" = "abort"): Command {
  return {
    name,
    summary,
    // derived from the plan's schema when a command's flags are needed, not for `gently --help`
    get options() {
      return { ...planOptions(plan), ...RUN_OPTIONS };
    },
    run: ({ values, json }) => submitAndFollow(plan, values, json, interrupt),
  };
}

export const moveCommand = planCommand("move", "move_stage", "move the XY stage (plan move_stage), e.g. --x-um 1200 --y-um 0");
export const positionCommand = planCommand("position", "get_position", "where the stages, the piezo and the galvo are (plan get_position)");
export const acquireCommand = planCommand("acquire", "acquire_volume", "acquire one light-sheet volume; prints its uid and path (plan acquire_volume)");
export const timelapseCommand = planCommand("timelapse", "timelapse_volume", "acquire a volume every --interval-s seconds (plan timelapse_volume)");
export const focusCommand = planCommand("focus", "focus_sweep", "focus sweep over --galvo-positions-deg; prints the score per angle and the best (plan focus_sweep)");
export const calibrateCommand = planCommand("calibrate", "calibrate_piezo_galvo", "fit galvo against piezo from focus sweeps and store the calibration (plan calibrate_piezo_galvo)");
export const detectCommand = planCommand("detect", "detect_embryos", "find embryos in an image by --image-uid (plan detect_embryos)");
export const laserPowerCommand = planCommand(
  "laser-power",
  "set_laser_power",
  "set laser line powers (--power-488-pct 5, percent; refused above each line's cap) and print every line's power read back (plan set_laser_power)",
);
export const liveCommand = planCommand(
  "live",
  "live_view",
  "stream one camera to the viewer until Ctrl-C (stops the run, lasers off) or --duration-s (plan live_view)",
  "stop",
);

const SNAP_PLANS: Record<string, PlanName> = { bottom: "snap_bottom", lightsheet: "snap_lightsheet" };

/** The flags of several plans for one command; a flag they share says what it means (and its default) for each. */
function mergedOptions(plans: Record<string, PlanName>): Command["options"] {
  const merged: Command["options"] = {};
  for (const [variant, plan] of Object.entries(plans)) {
    for (const [flag, option] of Object.entries(planOptions(plan))) {
      const seen = merged[flag];
      merged[flag] = seen
        ? { ...seen, description: `${seen.description} | ${variant}: ${option.description}` }
        : { ...option, description: `${variant}: ${option.description}` };
    }
  }
  return merged;
}

export const snapCommand: Command = {
  name: "snap",
  summary: "snap one frame: 'bottom' (brightfield, plan snap_bottom) or 'lightsheet' (plan snap_lightsheet)",
  usage: "bottom|lightsheet ",
  get options() {
    return { ...mergedOptions({ lightsheet: "snap_lightsheet", bottom: "snap_bottom" }), ...RUN_OPTIONS };
  },
  async run({ values, positionals, json }) {
    const plan = SNAP_PLANS[positionals[0] ?? ""];
    if (!plan || positionals.length !== 1) {
      process.stderr.write("usage: gently snap bottom|lightsheet [flags]\n");
      return EXIT.usage;
    }
    const allowed = new Set([...Object.keys(planOptions(plan)), ...Object.keys(RUN_OPTIONS), "json"]);
    const foreign = Object.keys(values).filter((k) => values[k] !== undefined && !allowed.has(k));
    if (foreign.length > 0) {
      process.stderr.write(`snap ${positionals[0]} takes no ${foreign.map((f) => `--${f}`).join(", ")}\n`);
      return EXIT.usage;
    }
    return submitAndFollow(plan, values, json);
  },
};

export const illuminationCommand: Command = {
  name: "illumination",
  summary: "without flags: the laser preset and LED (plan get_illumination); with --laser-config/--led: switch them (plan set_illumination)",
  get options() {
    return { ...planOptions("set_illumination"), ...RUN_OPTIONS };
  },
  run: ({ values, json }) =>
    submitAndFollow(values["laser-config"] === undefined && values.led === undefined ? "get_illumination" : "set_illumination", values, json),
};
