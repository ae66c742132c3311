import { randomUUID } from "node:crypto";
import { GENTLY_ANNOTATION_NS, metaFromAnnotation, metaToAnnotation, planeCoords, planeCount, slicePiezoUm, type PlanePosition, type VolumeMeta } from "./meta";
import { childrenNamed, escapeXml, firstChild, parseXml, type XmlElement } from "./xml";
import { SinkError } from "./errors";

export const OME_NS = "http://www.openmicroscopy.org/Schemas/OME/2016-06";

export interface TiffDataBlock {
  ifd: number;
  firstZ: number;
  firstC: number;
  firstT: number;
  planeCount: number;
}

/**
 * Maps IFDs to (Z, C, T) in runs: consecutive IFDs with consecutive Z in the same C and T share one
 * TiffData. XYZCT gives one block per (C, T); XYCZT with several channels gives one per plane.
 */
export function tiffDataBlocks(meta: VolumeMeta): TiffDataBlock[] {
  const blocks: TiffDataBlock[] = [];
  let cur: TiffDataBlock | undefined;
  for (let i = 0; i < planeCount(meta); i++) {
    const { z, c, t } = planeCoords(meta, i);
    if (cur && cur.firstC === c && cur.firstT === t && cur.firstZ + cur.planeCount === z) {
      cur.planeCount++;
    } else {
      cur = { ifd: i, firstZ: z, firstC: c, firstT: t, planeCount: 1 };
      blocks.push(cur);
    }
  }
  return blocks;
}

const num = (v: number) => String(v);

function attrs(pairs: Array<[string, string | number | undefined]>): string {
  return pairs
    .filter((p): p is [string, string | number] => p[1] !== undefined)
    .map(([k, v]) => ` ${k}="${escapeXml(typeof v === "number" ? num(v) : v)}"`)
    .join("");
}

export function channelName(ch: { camera: string; laser: string }): string {
  return `${ch.camera} ${ch.laser}`;
}

/** Annotation key of the galvo angle of every plane (in plane order), with the positions' source. */
export const PLANE_GALVO_KEY = "plane_galvo_deg";

/** Positions to 0.1 nm / 0.0001°, far below what the devices resolve, so the XML's size stays bounded. */
const fine = (v: number) => Math.round(v * 1e4) / 1e4;

/**
 * Worst case that per-plane positions add to the XML of a volume without them: PositionZ's value, a
 * DeltaT with its unit and the galvo angle in the annotation, each number at most 24 characters.
 */
export const PLANE_POSITIONS_MAX_BYTES_PER_PLANE = 128;
export const PLANE_POSITIONS_MAX_BYTES_FIXED = 256;

export interface OmeXmlOptions {
  /** The document's UUID (urn:uuid:...); a fresh one when absent. */
  uuid?: string;
  /** The sheet's position of every plane, in plane order (PositionZ = piezo, DeltaT from the first plane's timestamp). */
  planePositions?: ReadonlyArray<PlanePosition | undefined>;
}

/** OME-XML (2016-06) for the volume; pure ASCII so it can live in a TIFF ASCII tag. */
export function buildOmeXml(meta: VolumeMeta, software: string, options: OmeXmlOptions = {}): string {
  const um = "µm";
  const positions = options.planePositions;
  const t0 = positions?.[0]?.timestamp_us;
  const out: string[] = [];
  out.push(`<?xml version="1.0" encoding="UTF-8"?>`);
  out.push(
    `<OME xmlns="${OME_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="${OME_NS} ${OME_NS}/ome.xsd"` +
      attrs([["UUID", options.uuid ?? `urn:uuid:${randomUUID()}`], ["Creator", software]]) +
      `>`,
  );
  // The laser lines as OME light sources; a channel lit by one of them refers to it with its power.
  const laserId = (nm: number) => `LightSource:0:${nm}`;
  if (meta.laser_config.length > 0) {
    out.push(`<Instrument ID="Instrument:0">`);
    for (const l of meta.laser_config) {
      out.push(
        `<Laser` +
          attrs([
            ["ID", laserId(l.wavelength_nm)],
            ["Power", l.power_mw],
            ["PowerUnit", l.power_mw === undefined ? undefined : "mW"],
            ["Wavelength", l.wavelength_nm],
            ["WavelengthUnit", "nm"],
          ]) +
          `/>`,
      );
    }
    out.push(`</Instrument>`);
  }
  out.push(`<Image${attrs([["ID", "Image:0"], ["Name", `${meta.plan_name} ${meta.uid}`]])}>`);
  out.push(`<AcquisitionDate>${escapeXml(meta.acquired_at)}</AcquisitionDate>`);
  if (meta.laser_config.length > 0) out.push(`<InstrumentRef ID="Instrument:0"/>`);
  out.push(
    `<Pixels` +
      attrs([
        ["ID", "Pixels:0"],
        ["DimensionOrder", meta.dimension_order],
        ["Type", meta.dtype],
        ["SignificantBits", meta.dtype === "uint16" ? 16 : 8],
        ["BigEndian", "false"],
        ["Interleaved", "false"],
        ["SizeX", meta.size_x],
        ["SizeY", meta.size_y],
        ["SizeZ", meta.size_z],
        ["SizeC", meta.size_c],
        ["SizeT", meta.size_t],
        ["PhysicalSizeX", meta.pixel_size_um],
        ["PhysicalSizeXUnit", um],
        ["PhysicalSizeY", meta.pixel_size_um],
        ["PhysicalSizeYUnit", um],
        ["PhysicalSizeZ", meta.z_step_um],
        ["PhysicalSizeZUnit", um],
      ]) +
      `>`,
  );
  meta.channels.forEach((ch, c) => {
    const laser = meta.laser_config.find((l) => l.wavelength_nm === ch.excitation_nm);
    // OME's Attenuation is the fraction of the light source's power held back.
    const lightSource = laser
      ? `<LightSourceSettings${attrs([["ID", laserId(laser.wavelength_nm)], ["Attenuation", laser.power_pct === undefined ? undefined : fine(1 - laser.power_pct / 100)]])}/>`
      : "";
    out.push(
      `<Channel` +
        attrs([
          ["ID", `Channel:0:${c}`],
          ["Name", channelName(ch)],
          ["SamplesPerPixel", 1],
          ["ExcitationWavelength", ch.excitation_nm],
          ["ExcitationWavelengthUnit", ch.excitation_nm === undefined ? undefined : "nm"],
          ["EmissionWavelength", ch.emission_nm],
          ["EmissionWavelengthUnit", ch.emission_nm === undefined ? undefined : "nm"],
        ]) +
        (lightSource ? `>${lightSource}</Channel>` : `/>`),
    );
  });
  for (const b of tiffDataBlocks(meta)) {
    out.push(`<TiffData${attrs([["IFD", b.ifd], ["FirstZ", b.firstZ], ["FirstC", b.firstC], ["FirstT", b.firstT], ["PlaneCount", b.planeCount]])}/>`);
  }
  for (let i = 0; i < planeCount(meta); i++) {
    const { z, c, t } = planeCoords(meta, i);
    const at = positions?.[i];
    const deltaT = at?.timestamp_us !== undefined && t0 !== undefined ? fine((at.timestamp_us - t0) / 1000) : undefined;
    out.push(
      `<Plane` +
        attrs([
          ["TheZ", z],
          ["TheC", c],
          ["TheT", t],
          ["DeltaT", deltaT],
          ["DeltaTUnit", deltaT === undefined ? undefined : "ms"],
          ["ExposureTime", meta.channels[c].exposure_ms ?? meta.exposure_ms],
          ["ExposureTimeUnit", "ms"],
          ["PositionX", meta.stage_position_um.x_um],
          ["PositionXUnit", um],
          ["PositionY", meta.stage_position_um.y_um],
          ["PositionYUnit", um],
          // The sheet's plane: the piezo position of the plane as recorded, else of the sweep's slice
          // (stage z and the galvo are in the annotation).
          [
            "PositionZ",
            at ? fine(at.piezo_um) : meta.sheet_sweep ? slicePiezoUm(meta.sheet_sweep, z) : meta.stage_position_um.z_um + z * meta.z_step_um,
          ],
          ["PositionZUnit", um],
        ]) +
        `/>`,
    );
  }
  out.push(`</Pixels>`);
  out.push(`<AnnotationRef ID="Annotation:0"/>`);
  out.push(`</Image>`);
  out.push(`<StructuredAnnotations>`);
  out.push(`<MapAnnotation${attrs([["ID", "Annotation:0"], ["Namespace", GENTLY_ANNOTATION_NS]])}><Value>`);
  for (const [k, v] of metaToAnnotation(meta)) out.push(`<M${attrs([["K", k]])}>${escapeXml(v)}</M>`);
  if (positions?.some((p) => p !== undefined)) {
    const galvo = Array.from({ length: planeCount(meta) }, (_, i) => (positions[i] ? fine(positions[i]!.galvo_deg) : null));
    out.push(`<M${attrs([["K", PLANE_GALVO_KEY]])}>${escapeXml(JSON.stringify(galvo))}</M>`);
  }
  out.push(`</Value></MapAnnotation>`);
  out.push(`</StructuredAnnotations>`);
  out.push(`</OME>`);
  return out.join("\n");
}

// --- reading -------------------------------------------------------------------------------------

export interface OmePlane {
  theZ: number;
  theC: number;
  theT: number;
  /** since the first plane's exposure */
  delta_t_ms?: number;
  exposure_ms?: number;
  position_x_um?: number;
  position_y_um?: number;
  position_z_um?: number;
}

export interface OmeMetadata {
  /** The raw OME-XML text. */
  xml: string;
  imageName?: string;
  acquisitionDate?: string;
  pixels: {
    dimensionOrder: string;
    type: string;
    sizeX: number;
    sizeY: number;
    sizeZ: number;
    sizeC: number;
    sizeT: number;
    physicalSizeX_um?: number;
    physicalSizeY_um?: number;
    physicalSizeZ_um?: number;
  };
  channels: Array<{ id?: string; name?: string }>;
  tiffData: TiffDataBlock[];
  planes: OmePlane[];
  /** Key/value pairs of gently's MapAnnotation (empty when the file has none). */
  annotation: Map<string, string>;
  /** Volume metadata rebuilt from the annotation; null when the file was not written by gently. */
  meta: VolumeMeta | null;
  /** The galvo angle of every plane (null: not recorded), when the file records them (see meta.plane_positions). */
  planeGalvoDeg?: Array<number | null>;
}

const LENGTH_TO_UM: Record<string, number> = { "pm": 1e-6, "nm": 1e-3, "µm": 1, "um": 1, "mm": 1e3, "cm": 1e4, "m": 1e6 };
const TIME_TO_MS: Record<string, number> = { "ns": 1e-6, "µs": 1e-3, "us": 1e-3, "ms": 1, "s": 1e3, "min": 6e4 };

function numberAttr(el: XmlElement, name: string): number | undefined {
  const v = el.attrs[name];
  if (v === undefined || v.trim() === "") return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new SinkError("bad_file", `OME-XML ${el.name}@${name} is not a number: ${v}`);
  return n;
}

function intAttr(el: XmlElement, name: string, fallback?: number): number {
  const n = numberAttr(el, name) ?? fallback;
  if (n === undefined || !Number.isInteger(n)) throw new SinkError("bad_file", `OME-XML ${el.name}@${name} is missing or not an integer`);
  return n;
}

/** A quantity in a target unit, honouring the OME unit attribute (`{name}Unit`, default given). */
function unitAttr(el: XmlElement, name: string, table: Record<string, number>, defaultUnit: string): number | undefined {
  const v = numberAttr(el, name);
  if (v === undefined) return undefined;
  const unit = el.attrs[`${name}Unit`] ?? defaultUnit;
  const factor = table[unit];
  if (factor === undefined) return undefined; // e.g. "reference frame": not convertible
  return v * factor;
}

export function parseOmeXml(xml: string): OmeMetadata {
  let root: XmlElement;
  try {
    root = parseXml(xml);
  } catch (err) {
    throw new SinkError("bad_file", `ImageDescription is not well-formed XML: ${(err as Error).message}`, { cause: err });
  }
  if (root.name !== "OME") throw new SinkError("bad_file", `ImageDescription root is <${root.name}>, not <OME>`);
  const image = firstChild(root, "Image");
  const pixelsEl = image && firstChild(image, "Pixels");
  if (!image || !pixelsEl) throw new SinkError("bad_file", "OME-XML has no Image/Pixels");

  const pixels: OmeMetadata["pixels"] = {
    dimensionOrder: pixelsEl.attrs.DimensionOrder ?? "",
    type: pixelsEl.attrs.Type ?? "",
    sizeX: intAttr(pixelsEl, "SizeX"),
    sizeY: intAttr(pixelsEl, "SizeY"),
    sizeZ: intAttr(pixelsEl, "SizeZ"),
    sizeC: intAttr(pixelsEl, "SizeC"),
    sizeT: intAttr(pixelsEl, "SizeT"),
  };
  const px = unitAttr(pixelsEl, "PhysicalSizeX", LENGTH_TO_UM, "µm");
  const py = unitAttr(pixelsEl, "PhysicalSizeY", LENGTH_TO_UM, "µm");
  const pz = unitAttr(pixelsEl, "PhysicalSizeZ", LENGTH_TO_UM, "µm");
  if (px !== undefined) pixels.physicalSizeX_um = px;
  if (py !== undefined) pixels.physicalSizeY_um = py;
  if (pz !== undefined) pixels.physicalSizeZ_um = pz;

  const channels = childrenNamed(pixelsEl, "Channel").map((c) => ({
    ...(c.attrs.ID !== undefined ? { id: c.attrs.ID } : {}),
    ...(c.attrs.Name !== undefined ? { name: c.attrs.Name } : {}),
  }));
  const tiffData = childrenNamed(pixelsEl, "TiffData").map((t) => ({
    ifd: intAttr(t, "IFD", 0),
    firstZ: intAttr(t, "FirstZ", 0),
    firstC: intAttr(t, "FirstC", 0),
    firstT: intAttr(t, "FirstT", 0),
    planeCount: intAttr(t, "PlaneCount", t.attrs.IFD === undefined ? pixels.sizeZ * pixels.sizeC * pixels.sizeT : 1),
  }));
  const planes = childrenNamed(pixelsEl, "Plane").map((p) => {
    const plane: OmePlane = { theZ: intAttr(p, "TheZ"), theC: intAttr(p, "TheC"), theT: intAttr(p, "TheT") };
    const e = unitAttr(p, "ExposureTime", TIME_TO_MS, "s");
    const dt = unitAttr(p, "DeltaT", TIME_TO_MS, "s");
    if (dt !== undefined) plane.delta_t_ms = dt;
    const x = unitAttr(p, "PositionX", LENGTH_TO_UM, "reference frame");
    const y = unitAttr(p, "PositionY", LENGTH_TO_UM, "reference frame");
    const z = unitAttr(p, "PositionZ", LENGTH_TO_UM, "reference frame");
    if (e !== undefined) plane.exposure_ms = e;
    if (x !== undefined) plane.position_x_um = x;
    if (y !== undefined) plane.position_y_um = y;
    if (z !== undefined) plane.position_z_um = z;
    return plane;
  });

  const annotation = new Map<string, string>();
  const sa = firstChild(root, "StructuredAnnotations");
  const map = sa && childrenNamed(sa, "MapAnnotation").find((m) => m.attrs.Namespace === GENTLY_ANNOTATION_NS);
  const value = map && firstChild(map, "Value");
  if (value) for (const m of childrenNamed(value, "M")) if (m.attrs.K !== undefined) annotation.set(m.attrs.K, m.text);

  const acq = firstChild(image, "AcquisitionDate")?.text.trim();
  const galvo = annotation.get(PLANE_GALVO_KEY);
  let planeGalvoDeg: Array<number | null> | undefined;
  if (galvo !== undefined) {
    try {
      const parsed: unknown = JSON.parse(galvo);
      if (!Array.isArray(parsed) || !parsed.every((v) => v === null || typeof v === "number")) throw new Error("not an array of numbers");
      planeGalvoDeg = parsed as Array<number | null>;
    } catch (err) {
      throw new SinkError("bad_file", `gently annotation key "${PLANE_GALVO_KEY}" is not a JSON array of numbers: ${(err as Error).message}`);
    }
  }
  return {
    xml,
    ...(image.attrs.Name !== undefined ? { imageName: image.attrs.Name } : {}),
    ...(acq ? { acquisitionDate: acq } : {}),
    pixels,
    channels,
    tiffData,
    planes,
    annotation,
    meta: annotation.size > 0 ? metaFromAnnotation(annotation) : null,
    ...(planeGalvoDeg ? { planeGalvoDeg } : {}),
  };
}
