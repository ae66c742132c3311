import type { HwState, ParsedPlanParams, PlanName } from "@gently/protocol";
import type { Step } from "../steps";

/** A step as it ran: the step and the data of the event it emitted. */
export interface StepRecord {
  step: Step;
  data: Record<string, unknown>;
}

/** What a plan's summary may use besides its records. */
export interface SummaryContext {
  run_uid: string;
  session_id: string;
  /** stores a calibration record and returns its uid and path */
  storeCalibration(record: Record<string, unknown>): Promise<{ uid: string; path: string }>;
}

export interface PlanDefinition<P extends PlanName = PlanName> {
  name: P;
  /** reads only (no motion, no illumination): runs at once, beside a queued run */
  readOnly: boolean;
  /** switch the lasers off in teardown, whatever happened */
  lasersOff: boolean;
  /** the plan's steps, dry-run against the current state: pure, so every target can be checked first */
  expand(params: ParsedPlanParams<P>, state: HwState): Step[];
  /** the plan's result from its step records, emitted as the run's "result" event */
  summarize(params: ParsedPlanParams<P>, records: StepRecord[], ctx: SummaryContext): Promise<Record<string, unknown>> | Record<string, unknown>;
}

/** The data of the last record, the result of plans that do one thing. */
export function lastData(records: StepRecord[]): Record<string, unknown> {
  return records.at(-1)?.data ?? {};
}
