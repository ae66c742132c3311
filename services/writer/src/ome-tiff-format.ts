import path from "node:path";
import { OmeTiffSink, SinkError } from "@gently/ome-tiff";
import type { AcquisitionBegin } from "@gently/protocol";
import { volumeFileName } from "@gently/storage";
import type { OpenedVolume, VolumeFormat } from "./volume-format";
import { sinkMetaOf } from "./volume-meta";

/** One OME-TIFF per volume at volumes/{uid}.tif; BigTIFF when it passes 4 GiB (decided by libs/ome-tiff). */
export const omeTiffFormat: VolumeFormat = {
  name: "ome-tiff",
  fileName: volumeFileName,
  async open(begin: AcquisitionBegin, dir: string): Promise<OpenedVolume> {
    const finalPath = path.join(dir, omeTiffFormat.fileName(begin.volume_uid));
    const sink = new OmeTiffSink({ finalPath });
    await sink.open(sinkMetaOf(begin));
    if (sink.tempPath === undefined || sink.plannedBytes === undefined) {
      await sink.abort();
      throw new SinkError("bad_state", "OME-TIFF sink opened without a temp file or planned size");
    }
    return { sink, finalPath, tempPath: sink.tempPath, plannedBytes: sink.plannedBytes };
  },
};
