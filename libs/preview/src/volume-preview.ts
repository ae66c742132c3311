import { GentlyError } from "@gently/protocol";
import { previewJpeg, type PreviewJpeg, type PreviewOptions } from "./jpeg-preview";
import { maxProjection } from "./max-projection";
import { TiffVolume, type Plane } from "./tiff-volume";

/** Which plane of a volume to show: its maximum projection along z, or one slice. */
export type PreviewView = { kind: "mip" } | { kind: "slice"; z: number };

/**
 * A volume (or single image) as the JPEG the model sees. `projectionOf`
 * lets a caller with a cache of projections (the viz server) supply them;
 * by default they are computed plane by plane.
 */
export async function volumePreview(
  volume: TiffVolume,
  view: PreviewView,
  options: PreviewOptions,
  projectionOf: (c: number) => Promise<Plane> = (c) => maxProjection(volume, c),
): Promise<PreviewJpeg> {
  const { size_c, size_z, size_x, size_y } = volume.geometry;
  if (options.channel !== undefined && options.channel >= size_c) {
    throw new GentlyError("invalid_request", `channel: must be in [0, ${size_c - 1}] for this volume, got ${options.channel}`, "channel");
  }
  if (view.kind === "slice" && (view.z < 0 || view.z >= size_z)) {
    throw new GentlyError("invalid_request", `z: must be in [0, ${size_z - 1}] for this volume, got ${view.z}`, "z");
  }
  const channels = options.channel === undefined ? Array.from({ length: size_c }, (_, c) => c) : [options.channel];
  const planes = [];
  for (const c of channels) {
    const pixels = view.kind === "mip" ? await projectionOf(c) : await volume.readPlane(c, view.z);
    planes.push({ pixels, width: size_x, height: size_y });
  }
  return previewJpeg(planes, options);
}

/** Opens the file, renders the preview and closes it again. */
export async function filePreview(path: string, view: PreviewView, options: PreviewOptions): Promise<PreviewJpeg> {
  const volume = await TiffVolume.open(path);
  try {
    return await volumePreview(volume, view, options);
  } finally {
    await volume.close();
  }
}
