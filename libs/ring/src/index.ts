export {
  createRing,
  defaultRingPath,
  openRing,
  Ring,
  RING_SEQ_MAX,
  RingError,
  unlinkRing,
  type RingErrorCode,
  type RingGeometry,
  type RingStats,
  type SlotInfo,
  type SlotState,
} from "./ring";
