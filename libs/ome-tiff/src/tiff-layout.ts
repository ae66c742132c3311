/**
 * Byte layout of the files the OME-TIFF sink writes. Everything is fixed at open from the plan, so the
 * file is produced strictly front to back and never patched (which is what makes a streaming
 * whole-file checksum possible):
 *
 *   header | IFD0 (strip arrays) | plane 0 | IFD1 | plane 1 | ... | IFDn-1 | plane n-1 | OME-XML
 *
 * Each IFD sits directly before its pixels and already points at the next IFD's (future) offset;
 * the last IFD's next-pointer is 0. The OME-XML (IFD0's ImageDescription) comes last, in a region of
 * fixed size: it can then describe what was measured while the planes were written (each plane's
 * positions), and a copy written there at open keeps a partial file self-describing. With `alignBytes` (e.g. 4096) every IFD is zero-padded so the
 * pixels after it start at a multiple of it: planes can then go to disk with O_DIRECT.
 */

export const TIFF_TYPE = { ASCII: 2, SHORT: 3, LONG: 4, LONG8: 16 } as const;
type TiffType = (typeof TIFF_TYPE)[keyof typeof TIFF_TYPE];
const TYPE_SIZE: Record<TiffType, number> = { 2: 1, 3: 2, 4: 4, 16: 8 };

export const TAG = {
  NewSubfileType: 254,
  ImageWidth: 256,
  ImageLength: 257,
  BitsPerSample: 258,
  Compression: 259,
  PhotometricInterpretation: 262,
  ImageDescription: 270,
  StripOffsets: 273,
  SamplesPerPixel: 277,
  RowsPerStrip: 278,
  StripByteCounts: 279,
  PlanarConfiguration: 284,
  Software: 305,
  SampleFormat: 339,
} as const;

export interface LayoutInput {
  width: number;
  height: number;
  bytesPerSample: 1 | 2;
  planes: number;
  rowsPerStrip: number;
  /** Bytes of the ImageDescription region at the end of the file, including the terminating NUL. */
  descriptionBytes: number;
  software: string;
  forceBigTiff: boolean;
  /** Pixel data starts at multiples of this (zero padding after each IFD); 1 or absent: packed. */
  alignBytes?: number;
}

export interface TiffLayout extends LayoutInput {
  bigTiff: boolean;
  headerBytes: number;
  ifd0Bytes: number;
  ifdBytes: number;
  /** IFD 0 plus the padding that aligns plane 0's pixels (= ifd0Bytes when packed). */
  ifd0SlotBytes: number;
  /** Any other IFD plus its padding (= ifdBytes when packed). */
  ifdSlotBytes: number;
  planeBytes: number;
  /** planeBytes rounded up to even, so every IFD starts on a word boundary as TIFF requires. */
  planeSlotBytes: number;
  stripsPerPlane: number;
  /** Where the ImageDescription starts: right after the last plane. */
  descriptionOffset: number;
  totalBytes: number;
}

interface EntrySpec {
  tag: number;
  type: TiffType;
  count: number;
}

const even = (n: number) => n + (n & 1);
const roundUp = (n: number, to: number) => Math.ceil(n / to) * to;

function entrySpecs(l: LayoutInput, big: boolean, first: boolean): EntrySpec[] {
  const strips = Math.ceil(l.height / l.rowsPerStrip);
  const offType = big ? TIFF_TYPE.LONG8 : TIFF_TYPE.LONG;
  const specs: EntrySpec[] = [
    { tag: TAG.NewSubfileType, type: TIFF_TYPE.LONG, count: 1 },
    { tag: TAG.ImageWidth, type: TIFF_TYPE.LONG, count: 1 },
    { tag: TAG.ImageLength, type: TIFF_TYPE.LONG, count: 1 },
    { tag: TAG.BitsPerSample, type: TIFF_TYPE.SHORT, count: 1 },
    { tag: TAG.Compression, type: TIFF_TYPE.SHORT, count: 1 },
    { tag: TAG.PhotometricInterpretation, type: TIFF_TYPE.SHORT, count: 1 },
  ];
  if (first) specs.push({ tag: TAG.ImageDescription, type: TIFF_TYPE.ASCII, count: l.descriptionBytes });
  specs.push(
    { tag: TAG.StripOffsets, type: offType, count: strips },
    { tag: TAG.SamplesPerPixel, type: TIFF_TYPE.SHORT, count: 1 },
    { tag: TAG.RowsPerStrip, type: TIFF_TYPE.LONG, count: 1 },
    { tag: TAG.StripByteCounts, type: offType, count: strips },
    { tag: TAG.PlanarConfiguration, type: TIFF_TYPE.SHORT, count: 1 },
  );
  if (first) specs.push({ tag: TAG.Software, type: TIFF_TYPE.ASCII, count: l.software.length + 1 });
  specs.push({ tag: TAG.SampleFormat, type: TIFF_TYPE.SHORT, count: 1 });
  return specs;
}

function ifdBlockSize(specs: EntrySpec[], big: boolean): number {
  const entryBytes = big ? 20 : 12;
  const inlineMax = big ? 8 : 4;
  let size = (big ? 8 : 2) + specs.length * entryBytes + (big ? 8 : 4);
  for (const s of specs) {
    const bytes = TYPE_SIZE[s.type] * s.count;
    if (bytes > inlineMax && s.tag !== TAG.ImageDescription) size += even(bytes);
  }
  return size;
}

function computeWith(l: LayoutInput, big: boolean): TiffLayout {
  const headerBytes = big ? 16 : 8;
  const ifd0Bytes = ifdBlockSize(entrySpecs(l, big, true), big);
  const ifdBytes = ifdBlockSize(entrySpecs(l, big, false), big);
  const planeBytes = l.width * l.height * l.bytesPerSample;
  const planeSlotBytes = even(planeBytes);
  const align = l.alignBytes ?? 1;
  if (!Number.isInteger(align) || align < 1 || (align > 1 && planeSlotBytes % align !== 0)) {
    throw new Error(`alignBytes ${align} needs planes of a multiple of it, got ${planeSlotBytes} bytes`);
  }
  const ifd0SlotBytes = roundUp(headerBytes + ifd0Bytes, align) - headerBytes;
  const ifdSlotBytes = roundUp(ifdBytes, align);
  const descriptionOffset = headerBytes + ifd0SlotBytes + planeSlotBytes + (l.planes - 1) * (ifdSlotBytes + planeSlotBytes);
  const totalBytes = descriptionOffset + l.descriptionBytes;
  return {
    ...l,
    bigTiff: big,
    headerBytes,
    ifd0Bytes,
    ifdBytes,
    ifd0SlotBytes,
    ifdSlotBytes,
    planeBytes,
    planeSlotBytes,
    stripsPerPlane: Math.ceil(l.height / l.rowsPerStrip),
    descriptionOffset,
    totalBytes,
  };
}

/** Classic TIFF unless an offset would not fit in 32 bits (or BigTIFF is forced). */
export function computeLayout(l: LayoutInput): TiffLayout {
  if (!l.forceBigTiff) {
    const classic = computeWith(l, false);
    if (classic.totalBytes <= 0xffff_ffff) return classic;
  }
  return computeWith(l, true);
}

export function ifdOffset(l: TiffLayout, index: number): number {
  if (index === 0) return l.headerBytes;
  return l.headerBytes + l.ifd0SlotBytes + l.planeSlotBytes + (index - 1) * (l.ifdSlotBytes + l.planeSlotBytes);
}

export function pixelOffset(l: TiffLayout, index: number): number {
  return ifdOffset(l, index) + (index === 0 ? l.ifd0SlotBytes : l.ifdSlotBytes);
}

export function encodeHeader(l: TiffLayout): Uint8Array {
  const buf = new Uint8Array(l.headerBytes);
  const dv = new DataView(buf.buffer);
  buf[0] = 0x49; // "II": little-endian
  buf[1] = 0x49;
  if (l.bigTiff) {
    dv.setUint16(2, 43, true);
    dv.setUint16(4, 8, true); // bytesize of offsets
    dv.setUint16(6, 0, true);
    dv.setBigUint64(8, BigInt(l.headerBytes), true);
  } else {
    dv.setUint16(2, 42, true);
    dv.setUint32(4, l.headerBytes, true);
  }
  return buf;
}

/**
 * The ImageDescription region as it must appear at descriptionOffset: `description` (ASCII, no NUL)
 * padded with spaces (whitespace after the XML's root element) to the region's size, then the NUL.
 * Throws when it does not fit.
 */
export function encodeDescription(l: TiffLayout, description: Uint8Array): Uint8Array {
  if (description.length + 1 > l.descriptionBytes) {
    throw new Error(`the OME-XML has ${description.length} bytes; the file reserved ${l.descriptionBytes - 1} for it`);
  }
  const buf = new Uint8Array(l.descriptionBytes).fill(0x20);
  buf.set(description, 0);
  buf[buf.length - 1] = 0;
  return buf;
}

/** Encodes IFD `index` (with its out-of-line values and alignment padding) as it must appear at ifdOffset(index). */
export function encodeIfd(l: TiffLayout, index: number): Uint8Array {
  const first = index === 0;
  const big = l.bigTiff;
  const specs = entrySpecs(l, big, first);
  const size = first ? l.ifd0Bytes : l.ifdBytes;
  const base = ifdOffset(l, index);
  const buf = new Uint8Array(first ? l.ifd0SlotBytes : l.ifdSlotBytes);
  const dv = new DataView(buf.buffer);
  const entryBytes = big ? 20 : 12;
  const inlineMax = big ? 8 : 4;
  const pix = pixelOffset(l, index);
  const rowBytes = l.width * l.bytesPerSample;

  const values = (tag: number): number[] | Uint8Array | null => {
    switch (tag) {
      case TAG.NewSubfileType:
        return [0];
      case TAG.ImageWidth:
        return [l.width];
      case TAG.ImageLength:
        return [l.height];
      case TAG.BitsPerSample:
        return [l.bytesPerSample * 8];
      case TAG.Compression:
        return [1]; // none
      case TAG.PhotometricInterpretation:
        return [1]; // min-is-black
      case TAG.ImageDescription:
        return null; // the value is the region at the end of the file
      case TAG.StripOffsets:
        return Array.from({ length: l.stripsPerPlane }, (_, s) => pix + s * l.rowsPerStrip * rowBytes);
      case TAG.SamplesPerPixel:
        return [1];
      case TAG.RowsPerStrip:
        return [l.rowsPerStrip];
      case TAG.StripByteCounts:
        return Array.from({ length: l.stripsPerPlane }, (_, s) => Math.min(l.rowsPerStrip, l.height - s * l.rowsPerStrip) * rowBytes);
      case TAG.PlanarConfiguration:
        return [1]; // chunky; irrelevant with one sample, but some readers insist on it
      case TAG.Software:
        return new TextEncoder().encode(l.software);
      case TAG.SampleFormat:
        return [1]; // unsigned integer
      default:
        throw new Error(`no value for tag ${tag}`);
    }
  };

  const writeValue = (at: number, type: TiffType, v: number) => {
    if (type === TIFF_TYPE.SHORT) dv.setUint16(at, v, true);
    else if (type === TIFF_TYPE.LONG) dv.setUint32(at, v, true);
    else if (type === TIFF_TYPE.LONG8) dv.setBigUint64(at, BigInt(v), true);
    else dv.setUint8(at, v);
  };
  const writeOffset = (at: number, v: number) => (big ? dv.setBigUint64(at, BigInt(v), true) : dv.setUint32(at, v, true));

  let p = 0;
  if (big) dv.setBigUint64(p, BigInt(specs.length), true);
  else dv.setUint16(p, specs.length, true);
  p += big ? 8 : 2;
  const nextAt = p + specs.length * entryBytes;
  let extra = nextAt + (big ? 8 : 4);

  for (const s of specs) {
    dv.setUint16(p, s.tag, true);
    dv.setUint16(p + 2, s.type, true);
    if (big) dv.setBigUint64(p + 4, BigInt(s.count), true);
    else dv.setUint32(p + 4, s.count, true);
    const valueAt = p + (big ? 12 : 8);
    const v = values(s.tag);
    const bytes = TYPE_SIZE[s.type] * s.count;
    let dst = valueAt;
    if (v === null) {
      writeOffset(valueAt, l.descriptionOffset);
      p += entryBytes;
      continue;
    }
    if (bytes > inlineMax) {
      writeOffset(valueAt, base + extra);
      dst = extra;
      extra += even(bytes);
    }
    if (v instanceof Uint8Array) buf.set(v, dst); // ASCII: the NUL terminator is the zero already there
    else v.forEach((x, k) => writeValue(dst + k * TYPE_SIZE[s.type], s.type, x));
    p += entryBytes;
  }
  writeOffset(nextAt, index + 1 < l.planes ? ifdOffset(l, index + 1) : 0);
  if (extra !== size) throw new Error(`IFD ${index} encoded ${extra} bytes, layout says ${size}`);
  return buf;
}
