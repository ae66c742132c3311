import { z } from "zod";

/** Finite number: NaN and ±Infinity are refused at every boundary. */
export const finite = () => z.number().finite();

export const SessionId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9._-]+$/, "must be 1-64 characters of letters, digits, '.', '_' or '-'");

export const Dtype = z.enum(["uint8", "uint16"]);
export type Dtype = z.infer<typeof Dtype>;

export const CameraName = z.enum(["HamCam1", "HamCam2", "Bottom PCO"]);
export type CameraName = z.infer<typeof CameraName>;

export const LightSheetCamera = z.enum(["HamCam1", "HamCam2"]);

export const LASER_PRESETS = [
  "ALL OFF",
  "ALL ON",
  "405 only",
  "488 only",
  "561 only",
  "488 and 561",
  "637 only",
] as const;
export const LaserPreset = z.enum(LASER_PRESETS);
export type LaserPreset = z.infer<typeof LaserPreset>;

export const LedPreset = z.enum(["Open", "Closed"]);
export type LedPreset = z.infer<typeof LedPreset>;

/** Where the stage and the sheet were: recorded with every frame and volume. */
export const StagePosition = z.object({
  x_um: finite(),
  y_um: finite(),
  z_um: finite().optional(),
  piezo_um: finite().optional(),
  galvo_deg: finite().optional(),
});
export type StagePosition = z.infer<typeof StagePosition>;

export const Ok = z.object({ ok: z.literal(true) });
export const Empty = z.object({}).strict();
