export { startPlanRunner, type PlanRunnerOptions } from "./service";
export { focusScore, FOCUS_BAND } from "./focus-score";
