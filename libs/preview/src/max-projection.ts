import type { Plane, TiffVolume } from "./tiff-volume";

/**
 * Maximum intensity projection along z of one channel, read one plane at a
 * time: memory is one plane plus the running maximum, whatever the depth.
 */
export async function maxProjection(volume: TiffVolume, c: number): Promise<Plane> {
  const { size_x, size_y, size_z, dtype } = volume.geometry;
  const max = dtype === "uint16" ? new Uint16Array(size_x * size_y) : new Uint8Array(size_x * size_y);
  for (let z = 0; z < size_z; z++) {
    const plane = await volume.readPlane(c, z);
    for (let i = 0; i < max.length; i++) if (plane[i] > max[i]) max[i] = plane[i];
  }
  return max;
}
