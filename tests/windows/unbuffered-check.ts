/**
 * Run by tests/windows under Windows Node: a volume of full 1 MiB planes
 * written by the OME-TIFF sink from Windows ring slots (named shared memory).
 * Prints one JSON line: the file and the bytes that went through the
 * unbuffered handle; the planes fed to the ring are kept in planes.raw for the
 * test to compare with tifffile's read.
 */
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { createOmeTiffSink, openWindowsFile, type VolumeMetaInput, type WindowsSinkFile } from "@gently/ome-tiff";
import { createRing } from "@gently/ring";

const dir = process.argv[2];
const PLANES = 3;
const meta: VolumeMetaInput = {
  uid: "unbufferedCheckVolume1",
  session_id: "windows-test",
  run_uid: "windows-test-run",
  plan_name: "unbuffered check",
  size_x: 1024,
  size_y: 512,
  size_z: PLANES,
  pixel_size_um: 0.1625,
  z_step_um: 1,
  exposure_ms: 10,
  channels: [{ camera: "HamCam1", laser: "488nm", excitation_nm: 488, emission_nm: 525 }],
  stage_position_um: { x_um: 0, y_um: 0, z_um: 0 },
  acquired_at: new Date().toISOString(),
};
const planeBytes = 1024 * 512 * 2;
const ring = createRing(`Local\\gently-unbuffered-check-${process.pid}`, { slotBytes: planeBytes, numSlots: 2 });
let file: WindowsSinkFile | undefined;
const sink = await createOmeTiffSink({
  finalPath: path.join(dir, "planes.tif"),
  meta,
  openFile: async (p) => (file = await openWindowsFile(p)),
});
const planes = Array.from({ length: PLANES }, () => randomBytes(planeBytes));
writeFileSync(path.join(dir, "planes.raw"), Buffer.concat(planes));
for (let z = 0; z < PLANES; z++) {
  const slot = ring.tryAcquire()!;
  ring.write(slot, planes[z]);
  ring.commit(slot, z, planeBytes);
  await sink.appendPlane(ring.slotView(slot, z));
  ring.release(slot, z);
}
const result = await sink.finalize();
ring.close();
console.log(JSON.stringify({ path: result.path, bytes: result.bytes, planeBytes, planes: PLANES, unbufferedBytes: file!.unbufferedBytes }));
