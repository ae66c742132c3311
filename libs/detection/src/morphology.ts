/**
 * Binary morphology with a (2r+1)×(2r+1) square structuring element.
 * The square is separable, and sliding-window counts make each pass O(pixels) whatever the radius.
 * Outside the image counts as neutral (foreground for erosion, background for dilation), so objects touching
 * the border are not eaten away by the frame itself.
 */

function horizontalPass(src: Uint8Array, dst: Uint8Array, width: number, height: number, r: number, erode: boolean): void {
  for (let y = 0; y < height; y++) {
    const row = y * width;
    // Erosion counts background pixels in the window, dilation counts foreground pixels.
    let count = 0;
    for (let x = 0; x <= Math.min(r, width - 1); x++) count += erode ? 1 - src[row + x] : src[row + x];
    for (let x = 0; x < width; x++) {
      dst[row + x] = erode ? (count === 0 ? 1 : 0) : count > 0 ? 1 : 0;
      const enter = x + r + 1;
      const leave = x - r;
      if (enter < width) count += erode ? 1 - src[row + enter] : src[row + enter];
      if (leave >= 0) count -= erode ? 1 - src[row + leave] : src[row + leave];
    }
  }
}

function verticalPass(src: Uint8Array, dst: Uint8Array, width: number, height: number, r: number, erode: boolean): void {
  const counts = new Int32Array(width);
  for (let y = 0; y <= Math.min(r, height - 1); y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) counts[x] += erode ? 1 - src[row + x] : src[row + x];
  }
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) dst[row + x] = erode ? (counts[x] === 0 ? 1 : 0) : counts[x] > 0 ? 1 : 0;
    const enter = y + r + 1;
    const leave = y - r;
    if (enter < height) {
      const er = enter * width;
      for (let x = 0; x < width; x++) counts[x] += erode ? 1 - src[er + x] : src[er + x];
    }
    if (leave >= 0) {
      const lr = leave * width;
      for (let x = 0; x < width; x++) counts[x] -= erode ? 1 - src[lr + x] : src[lr + x];
    }
  }
}

function squarePass(mask: Uint8Array, width: number, height: number, radiusPx: number, erode: boolean): Uint8Array {
  if (mask.length !== width * height) throw new Error(`mask length ${mask.length} != ${width}x${height}`);
  if (radiusPx <= 0) return mask.slice();
  const tmp = new Uint8Array(mask.length);
  const out = new Uint8Array(mask.length);
  horizontalPass(mask, tmp, width, height, radiusPx, erode);
  verticalPass(tmp, out, width, height, radiusPx, erode);
  return out;
}

export function erode(mask: Uint8Array, width: number, height: number, radiusPx: number): Uint8Array {
  return squarePass(mask, width, height, radiusPx, true);
}

export function dilate(mask: Uint8Array, width: number, height: number, radiusPx: number): Uint8Array {
  return squarePass(mask, width, height, radiusPx, false);
}

/** Opening (erode, dilate): removes specks and thin bridges narrower than the element. */
export function open(mask: Uint8Array, width: number, height: number, radiusPx: number): Uint8Array {
  return dilate(erode(mask, width, height, radiusPx), width, height, radiusPx);
}

/** Closing (dilate, erode): fills pinholes and notches narrower than the element. */
export function close(mask: Uint8Array, width: number, height: number, radiusPx: number): Uint8Array {
  return erode(dilate(mask, width, height, radiusPx), width, height, radiusPx);
}
