import type { CameraName, LaserLine, LaserPreset, LedPreset, MoveRequest, PresetRequest, Sweep, Uid } from "@gently/protocol";

/** One light-sheet volume as the hardware takes it. */
export interface VolumeSpec {
  cameras: CameraName[];
  num_slices: number;
  exposure_ms: number;
  sweep: Sweep;
  laser_config: LaserPreset;
}

/** What a focus snap is for: its sweep (calibration runs several) and where the sheet was. */
export interface FocusTag {
  sweep: number;
  galvo_deg: number;
  piezo_um?: number;
}

/**
 * The typed steps a plan expands into. Expansion is pure (a dry run against
 * hw.state), so every target is known, and checked, before the first step
 * runs. `where` says where in the plan a step sits, for violations and
 * progress.
 */
export type Step =
  | { kind: "move"; request: MoveRequest; where: string }
  | { kind: "preset"; request: PresetRequest; where: string }
  /** powers in percent per laser line (405, 488, 561, 637) */
  | { kind: "laser_power"; powers_pct: Partial<Record<LaserLine, number>>; where: string }
  /** `volumes` > 1: that many volumes back to back in one sequence (continuous), timepoints from `timepoint` on */
  | { kind: "acquire"; volume: VolumeSpec; where: string; timepoint?: number; volumes?: number }
  | {
      kind: "snap";
      camera: CameraName;
      exposure_ms: number;
      laser_config?: LaserPreset;
      led?: LedPreset;
      where: string;
      focus?: FocusTag;
    }
  /** hold until this many seconds after the run started (plus time spent paused) */
  | { kind: "wait_until"; at_s: number; where: string }
  | { kind: "read"; what: "position" | "illumination" | "status"; where: string }
  | { kind: "detect"; image_uid: Uid; where: string }
  /** stream previews of one camera until the run is stopped or duration_s has passed */
  | { kind: "live"; camera: CameraName; exposure_ms: number; laser_config: LaserPreset; led: LedPreset; duration_s: number; where: string };

export type StepKind = Step["kind"];

/** Frames a step records (its share of a run's progress); one unit for every other step that does something. */
export function stepWeight(step: Step): number {
  if (step.kind === "acquire") return step.volume.num_slices * step.volume.cameras.length * (step.volumes ?? 1);
  if (step.kind === "wait_until") return 0;
  return 1;
}

/**
 * The event stream a step's reading goes to: one stream per kind of reading,
 * so every event of a stream has the data keys of its descriptor. Volumes and
 * images are the run's "primary" data.
 */
export function eventStream(step: Step): string {
  switch (step.kind) {
    case "acquire":
    case "snap":
      return "primary";
    case "move":
      return "motion";
    case "preset":
    case "laser_power":
      return "illumination";
    case "read":
      return "readings";
    case "detect":
      return "detection";
    case "wait_until":
      return "timing";
    case "live":
      return "live";
  }
}
