import type { HwState, ParsedPlanParams, PlanName, VolumeWritten } from "@gently/protocol";
import type { AcquisitionDeps } from "../acquisition";
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

/** What a plan's analysis of a step's reading may use. */
export interface AnalysisContext {
  /** storage root, where a written file is found when the path the writer announced is not this host's */
  storage: string;
  /** the file the step wrote, if any */
  volume?: VolumeWritten;
}

/** What a plan leaves the instrument in after its run, whatever happened (an abort or a failure included). */
export interface PlanTeardown {
  /** progress message while it runs, e.g. "lasers off" */
  what: string;
  /** the run's reason when it could not be done, e.g. "the lasers could not be confirmed off" */
  failure: string;
  run(deps: AcquisitionDeps): Promise<void>;
}

export interface PlanDefinition<P extends PlanName = PlanName> {
  name: P;
  /** reads only (no motion, no illumination): runs at once, beside a queued run */
  readOnly: boolean;
  /** run after the last step whatever happened; none for plans that leave nothing on */
  teardown?: PlanTeardown;
  /** adds the plan's own analysis of a step's reading to its event (a focus plan scores its snaps) */
  analyze?(step: Step, ctx: AnalysisContext): Promise<Record<string, unknown>>;
  /** the plan's steps, dry-run against the current state: pure, so every target can be checked first */
  expand(params: ParsedPlanParams<P>, state: HwState): Step[];
  /** the plan's result from its step records, emitted as the run's "result" event */
  summarize(params: ParsedPlanParams<P>, records: StepRecord[], ctx: SummaryContext): Promise<Record<string, unknown>> | Record<string, unknown>;
}

/** The data of the last record, the result of plans that do one thing. */
export function lastData(records: StepRecord[]): Record<string, unknown> {
  return records.at(-1)?.data ?? {};
}
