/** Device labels of the diSPIM, as in its Micro-Manager configuration. */
export const DEVICES = {
  xyStage: "XYStage:XY:31",
  zStage: "ZStage:Z:32",
  fDrive: "ZStage:V:37",
  piezo: "PiezoStage:P:34",
  scanner: "Scanner:AB:33",
  lightSheetCameras: ["HamCam1", "HamCam2"],
  bottomCamera: "Bottom PCO",
} as const;
