import type { Sweep } from "@gently/protocol";

export interface SweepParams {
  num_slices: number;
  piezo_center_um: number;
  piezo_amplitude_um: number;
  galvo_center_deg: number;
  galvo_amplitude_deg: number;
}

/**
 * The sweep of a volume: slices spread evenly from centre - amplitude to
 * centre + amplitude on both axes (one slice sits at the centre).
 */
export function sweepOf(p: SweepParams): Sweep {
  if (p.num_slices <= 1) {
    return { piezo_start_um: p.piezo_center_um, piezo_step_um: 0, galvo_start_deg: p.galvo_center_deg, galvo_step_deg: 0 };
  }
  const intervals = p.num_slices - 1;
  return {
    piezo_start_um: p.piezo_center_um - p.piezo_amplitude_um,
    piezo_step_um: (2 * p.piezo_amplitude_um) / intervals,
    galvo_start_deg: p.galvo_center_deg - p.galvo_amplitude_deg,
    galvo_step_deg: (2 * p.galvo_amplitude_deg) / intervals,
  };
}

/** Piezo and galvo of slice i (0-based), the way the hardware computes them. */
export function slicePosition(sweep: Sweep, i: number): { piezo_um: number; galvo_deg: number } {
  return { piezo_um: sweep.piezo_start_um + i * sweep.piezo_step_um, galvo_deg: sweep.galvo_start_deg + i * sweep.galvo_step_deg };
}
