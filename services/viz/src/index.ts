export { startVizServer, type VizServer, type VizServerOptions } from "./viz-server";
