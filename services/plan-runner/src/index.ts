export { startPlanRunner, type PlanRunnerOptions } from "./service";
export { focusScore, FOCUS_BAND } from "./focus-score";
export { benchPlanRunner, type PlanRunnerBenchResult } from "./bench";
