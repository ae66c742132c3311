/**
 * Binary morphology with a (2r+1)×(2r+1) square structuring element.
 * The square is separable, and sliding-window counts make each pass O(pixels) whatever the radius.
 * Outside the image counts as neutral (foreground for erosion, background for dilation), so objects touching
 * the border are not eaten away by the frame itself.
 */

// Dilation passes only: erosion is computed as the complement of the dilated complement, which with a
// background-valued frame for dilation gives exactly the foreground-valued frame wanted for erosion.
function horizontalDilate(src: Uint8Array, dst: Uint8Array, width: number, height: number, r: number): void {
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let count = 0; // foreground pixels in the window [x - r, x + r]
    for (let x = 0; x <= Math.min(r, width - 1); x++) count += src[row + x];
    for (let x = 0; x < width; x++) {
      dst[row + x] = count > 0 ? 1 : 0;
      if (x + r + 1 < width) count += src[row + x + r + 1];
      if (x - r >= 0) count -= src[row + x - r];
    }
  }
}

function verticalDilate(src: Uint8Array, dst: Uint8Array, width: number, height: number, r: number): void {
  const counts = new Int32Array(width);
  for (let y = 0; y <= Math.min(r, height - 1); y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) counts[x] += src[row + x];
  }
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) dst[row + x] = counts[x] > 0 ? 1 : 0;
    if (y + r + 1 < height) {
      const er = (y + r + 1) * width;
      for (let x = 0; x < width; x++) counts[x] += src[er + x];
    }
    if (y - r >= 0) {
      const lr = (y - r) * width;
      for (let x = 0; x < width; x++) counts[x] -= src[lr + x];
    }
  }
}

function invertInPlace(mask: Uint8Array): Uint8Array {
  for (let i = 0; i < mask.length; i++) mask[i] = mask[i] ? 0 : 1;
  return mask;
}

export function dilate(mask: Uint8Array, width: number, height: number, radiusPx: number): Uint8Array {
  if (mask.length !== width * height) throw new Error(`mask length ${mask.length} != ${width}x${height}`);
  if (radiusPx <= 0) return mask.slice();
  const tmp = new Uint8Array(mask.length);
  const out = new Uint8Array(mask.length);
  horizontalDilate(mask, tmp, width, height, radiusPx);
  verticalDilate(tmp, out, width, height, radiusPx);
  return out;
}

export function erode(mask: Uint8Array, width: number, height: number, radiusPx: number): Uint8Array {
  if (mask.length !== width * height) throw new Error(`mask length ${mask.length} != ${width}x${height}`);
  if (radiusPx <= 0) return mask.slice();
  const complement = invertInPlace(mask.slice());
  return invertInPlace(dilate(complement, width, height, radiusPx));
}

/** Opening (erode, dilate): removes specks and thin bridges narrower than the element. */
export function open(mask: Uint8Array, width: number, height: number, radiusPx: number): Uint8Array {
  return dilate(erode(mask, width, height, radiusPx), width, height, radiusPx);
}

/** Closing (dilate, erode): fills pinholes and notches narrower than the element. */
export function close(mask: Uint8Array, width: number, height: number, radiusPx: number): Uint8Array {
  return erode(dilate(mask, width, height, radiusPx), width, height, radiusPx);
}
