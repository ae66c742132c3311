export { TiffVolume, type Plane, type VolumeGeometry } from "./tiff-volume";
export { maxProjection } from "./max-projection";
export { autoWindow, toGray8, type Window } from "./contrast";
export {
  previewJpeg,
  shrinkByAreaMean,
  PreviewOptions,
  PreviewOptionFields,
  highAboveLow,
  PreviewQuery,
  previewOptionsOf,
  PREVIEW_DEFAULTS,
  PREVIEW_MAX_PX_LIMIT,
  type PreviewJpeg,
  type PreviewPlane,
} from "./jpeg-preview";
export { volumePreview, filePreview, type PreviewView } from "./volume-preview";
