export { startSamService, SAM_SERVICE_VERSION, type SamService, type SamServiceOptions } from "./sam-service";
export { SamModel, type SamModelReport, type SamModelState } from "./sam-model";
export { detect, type DetectDeps, type DetectOutcome } from "./detect";
export { loadSourceImage, type SourceImage } from "./image-source";
export {
  classicalOptionsFor,
  DEFAULT_MAX_AREA_UM2,
  DEFAULT_MIN_AREA_UM2,
  EMBRYO_AREA_UM2,
  EMBRYO_LENGTH_UM,
  EMBRYO_WIDTH_UM,
} from "./classical-options";
export { labelMaskOf, type LabelMask } from "./label-mask";
export { DETECTIONS_EXT, MASK_EXT } from "./derived-results";
export { writeImageFile, type ImageFileOptions } from "./image-file";
