import { fromFile } from "geotiff";

/** Every plane of a TIFF in file order, read by geotiff (an independent reader), as raw bytes. */
export async function geotiffPlanes(file: string): Promise<Buffer[]> {
  const tiff = await fromFile(file);
  try {
    const planes: Buffer[] = [];
    const count = await tiff.getImageCount();
    for (let i = 0; i < count; i++) {
      const [raster] = (await (await tiff.getImage(i)).readRasters()) as unknown as Uint16Array[];
      planes.push(Buffer.from(raster.buffer, raster.byteOffset, raster.byteLength));
    }
    return planes;
  } finally {
    await tiff.close();
  }
}
