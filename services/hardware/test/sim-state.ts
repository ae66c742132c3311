import type { HwState } from "@gently/protocol";
import type { SimState } from "../src/sim-truth";

/** What a frame was taken with, beyond the positions and ROI in the hardware state. */
export interface FrameSettings {
  exposure_ms: number;
  laser: string;
  piezo_um: number;
  galvo_deg: number;
}

/** The sim state a frame was rendered with, rebuilt from what the hardware state reported and the frame's own settings. */
export function simStateOf(s: HwState, camera: string, frame: FrameSettings): SimState {
  const roi = s.cameras[camera].roi;
  return {
    x_um: s.position.x_um,
    y_um: s.position.y_um,
    z_um: s.position.z_um,
    f_um: s.position.f_um,
    piezo_um: frame.piezo_um,
    galvo_a_deg: s.position.galvo_a_deg,
    galvo_b_deg: frame.galvo_deg,
    exposure_ms: frame.exposure_ms,
    roi_x: roi.x,
    roi_y: roi.y,
    roi_width: roi.width,
    roi_height: roi.height,
    binning: 1,
    led_open: s.led === "Open" ? 1 : 0,
    laser_preset: frame.laser,
  };
}
