import type { LaserPreset } from "@gently/protocol";

/** Every laser line of the diSPIM's "Laser" preset group, in nm. */
const ALL_LINES_NM = [405, 488, 561, 637] as const;

/** The laser lines (nm) a preset switches on: "488 and 561" → [488, 561], "ALL ON" → all four. */
export function laserLinesOf(preset: LaserPreset | undefined): number[] {
  if (preset === undefined || preset === "ALL OFF") return [];
  if (preset === "ALL ON") return [...ALL_LINES_NM];
  return (preset.match(/\d{3}/g) ?? []).map(Number);
}
