export { startVizServer, type VizServer, type VizServerOptions } from "./viz-server";
export { benchViz, type VizBenchResult } from "./bench";
export { benchLivePreview, type LivePreviewBenchResult } from "./live-bench";
