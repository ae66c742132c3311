import { z } from "zod";
import { Dtype, SessionId } from "./common";
import { Uid } from "./uid";
import { Checksum } from "./volume";

/** Kinds of data item the DataStore indexes. */
export const DataType = z.enum(["image", "volume", "analysis", "detection", "calibration", "session"]);
export type DataType = z.infer<typeof DataType>;

/**
 * A derived item (detections, a label mask, a MIP, a calibration record) was
 * written under {storage}/derived/. Its parent is the item it came from, so
 * the DataStore can walk the lineage.
 */
export const DerivedWritten = z.object({
  uid: Uid,
  data_type: DataType,
  /** absolute path of the file under the storage root */
  path: z.string(),
  parent_uid: Uid.optional(),
  session_id: SessionId.optional(),
  run_uid: Uid.optional(),
  shape: z.array(z.number().int().min(1)).max(5).optional(),
  dtype: Dtype.optional(),
  bytes: z.number().int().min(0),
  checksum: Checksum.optional(),
  created: z.string().datetime(),
  /** small, item-specific facts (e.g. detection count, fit slope); never pixels */
  metadata: z.record(z.string(), z.unknown()),
});
export type DerivedWritten = z.infer<typeof DerivedWritten>;
