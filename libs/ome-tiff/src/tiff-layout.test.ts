import { describe, expect, it } from "vitest";
import { computeLayout, encodeDescription, encodeIfd, ifdOffset, pixelOffset, type LayoutInput } from "./tiff-layout";

const base: LayoutInput = {
  width: 2048,
  height: 2048,
  bytesPerSample: 2,
  planes: 200,
  rowsPerStrip: 2048,
  descriptionBytes: 50_001,
  software: "gently",
  forceBigTiff: false,
};

describe("TIFF layout", () => {
  it("keeps a 1.6 GB volume classic and switches to BigTIFF once offsets pass 32 bits", () => {
    expect(computeLayout(base).bigTiff).toBe(false);
    const planeBytes = 2048 * 2048 * 2;
    const lastClassic = Math.floor(2 ** 32 / (planeBytes + 200)); // 511 planes still fit
    expect(computeLayout({ ...base, planes: lastClassic }).bigTiff).toBe(false);
    const big = computeLayout({ ...base, planes: 520 });
    expect(big.bigTiff).toBe(true);
    expect(big.totalBytes).toBeGreaterThan(2 ** 32);
  });

  it("places IFDs and pixels back to back, then the description's region, so the file is written strictly in order", () => {
    const l = computeLayout({ ...base, width: 33, height: 17, bytesPerSample: 1, planes: 4, rowsPerStrip: 5, descriptionBytes: 11 });
    expect(l.planeSlotBytes).toBe(33 * 17 + 1); // odd plane padded to keep IFDs word-aligned
    let at = l.headerBytes;
    for (let i = 0; i < l.planes; i++) {
      expect(ifdOffset(l, i)).toBe(at);
      const ifd = encodeIfd(l, i);
      at += ifd.length;
      expect(pixelOffset(l, i)).toBe(at);
      at += l.planeSlotBytes;
    }
    expect(l.descriptionOffset).toBe(at);
    expect(encodeDescription(l, new Uint8Array(10).fill(0x41))).toHaveLength(11);
    expect(() => encodeDescription(l, new Uint8Array(11).fill(0x41))).toThrow(/reserved 10/);
    expect(at + l.descriptionBytes).toBe(l.totalBytes);
  });

  it("with alignBytes pads each IFD so every plane's pixels start on an aligned offset, in both TIFF flavours", () => {
    for (const forceBigTiff of [false, true]) {
      const l = computeLayout({ ...base, width: 256, height: 128, planes: 3, alignBytes: 4096, forceBigTiff });
      let at = l.headerBytes;
      for (let i = 0; i < l.planes; i++) {
        expect(ifdOffset(l, i)).toBe(at);
        const ifd = encodeIfd(l, i);
        expect(ifd.subarray(i === 0 ? l.ifd0Bytes : l.ifdBytes).every((b) => b === 0)).toBe(true);
        at += ifd.length;
        expect(pixelOffset(l, i)).toBe(at);
        expect(at % 4096).toBe(0);
        at += l.planeSlotBytes;
      }
      expect(at + l.descriptionBytes).toBe(l.totalBytes);
    }
    expect(() => computeLayout({ ...base, width: 33, height: 17, bytesPerSample: 1, alignBytes: 4096 })).toThrow(/multiple/);
  });
});
