export {
  confineToStorage,
  derivedPathFor,
  indexPathOf,
  isSidecar,
  LAYOUT,
  quarantineDirOf,
  SIDECAR_SUFFIX,
  sidecarPathFor,
  volumeFileName,
  volumePathFor,
  volumesDirOf,
  whyNotDataFile,
} from "./layout";
export { FILE_UID_PATTERN, PARTIAL_SUFFIX, partialFileName, parsePartialFileName } from "./partial-names";
export { VOLUME_INDEX_EXTRA_KEY, volumeIndexExtra, type VolumeIndexFacts } from "./index-facts";
