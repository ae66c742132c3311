/**
 * Key of the OME MapAnnotation `extra` entry in which the writer stores, at
 * open time, the index facts a TIFF header does not otherwise carry (the
 * data_type and the VolumeWritten metadata known before the last plane). With
 * it, a rebuild loses only what is known after the file is closed.
 */
export const VOLUME_INDEX_EXTRA_KEY = "gently_index";

export interface VolumeIndexFacts {
  data_type: "image" | "volume";
  /** VolumeWritten.metadata as known when the file is opened */
  metadata: Record<string, unknown>;
}

/** The `extra` entries a writer passes to the OME-TIFF sink so a rebuild recovers data_type and metadata. */
export function volumeIndexExtra(facts: VolumeIndexFacts): Record<string, string> {
  // OME-XML in a TIFF ASCII tag: escape anything outside ASCII.
  const json = JSON.stringify(facts).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  return { [VOLUME_INDEX_EXTRA_KEY]: json };
}
