export type { BBox, GrayImage } from "./image";
export { integerPercentiles, normalizePercentile, type NormalizeOptions } from "./intensity";
export { clahe, equalizeHistogram, type ClaheOptions } from "./equalize";
export { gaussianBlur, gaussianKernel } from "./blur";
export { close, dilate, erode, open } from "./morphology";
export { cropLabel, labelComponents, maskGeometry, regionGeometry, type LabelResult, type RegionGeometry } from "./components";
export {
  CLASSICAL_DEFAULTS,
  detectCandidates,
  detectPolarity,
  type ClassicalCandidate,
  type ClassicalOptions,
  type ClassicalResult,
  type Polarity,
} from "./classical";
export {
  SAM_INPUT_SIZE,
  maskToOriginal,
  padBox,
  samGeometry,
  toModelBox,
  toModelPoint,
  toOriginalBox,
  toOriginalPoint,
  type SamGeometry,
} from "./sam-geometry";
export { preprocessForSam, SAM_PIXEL_MEAN, SAM_PIXEL_STD, type SamInput } from "./sam-preprocess";
export { resizeBilinear } from "./resize";
export {
  SAM_DECODER_INPUTS,
  SAM_DECODER_OUTPUTS,
  SAM_ENCODER_INPUT,
  SAM_ENCODER_OUTPUT,
  SAM_LABEL,
  SamSegmenter,
  type SamInfo,
  type SamLoadOptions,
  type SamMaskResult,
  type SamPromptPoint,
  type SamSegmentOptions,
} from "./sam";
export {
  buildTinySamDecoder,
  buildTinySamEncoder,
  TINY_SAM_BEST_MULTIMASK_INDEX,
  TINY_SAM_IOU_PREDICTIONS,
  writeTinySamModels,
  type SamModelPaths,
} from "./make-test-model";
export {
  pixelToStage,
  stageToPixel,
  toEmbryos,
  type DetectionMethod,
  type Embryo,
  type EmbryoSource,
  type ImageFrame,
  type ToEmbryosOptions,
} from "./embryos";
export { detectEmbryosClassical, detectEmbryosSam, type DetectionResult } from "./pipeline";
export { scatterEmbryos, seededRandom, syntheticEmbryoImage, type SyntheticEmbryo, type SyntheticImageOptions } from "./synthetic";
export { benchDetection, type DetectionBenchOptions, type DetectionBenchResult } from "./bench";
export { SAM_ENV, samPathsFromEnv } from "./config";
