import { call } from "@gently/bus";
import { GentlyError, hw, newUid, type CameraName, type LaserPreset, type LedPreset, type VolumeWritten } from "@gently/protocol";
import { onAbort, rejectAfter, type AcquisitionDeps, type Owner } from "./acquisition";

export interface SnapSpec {
  camera: CameraName;
  exposure_ms: number;
  laser_config?: LaserPreset;
  led?: LedPreset;
}

/** Time for the writer to announce a snapped frame. */
const SNAP_WRITE_MS = 30_000;

/** One frame through the hardware and the writer; returns the written image. An abort stops waiting for it. */
export async function snapImage(deps: AcquisitionDeps, spec: SnapSpec, owner: Owner, signal: AbortSignal): Promise<VolumeWritten> {
  if (signal.aborted) throw new GentlyError("aborted", "aborted before the snap");
  const volume_uid = newUid();
  const expectation = deps.volumes.expect(volume_uid);
  const deadline = rejectAfter(SNAP_WRITE_MS + spec.exposure_ms, () => new GentlyError("timeout", `image ${volume_uid} was not written in time`));
  try {
    await call(
      deps.nc,
      hw.snap,
      {
        acq_id: newUid(),
        volume_uid,
        session_id: owner.session_id,
        run_uid: owner.run_uid,
        plan_name: owner.plan_name,
        camera: spec.camera,
        exposure_ms: spec.exposure_ms,
        ...(spec.laser_config ? { laser_config: spec.laser_config } : {}),
        ...(spec.led ? { led: spec.led } : {}),
      },
      { timeoutMs: 15_000 + spec.exposure_ms },
    );
    const outcome = await Promise.race([expectation.written, onAbort(signal), deadline.promise]);
    if (outcome === "aborted") throw new GentlyError("aborted", `aborted while image ${volume_uid} was being written`);
    return outcome;
  } finally {
    deadline.clear();
    expectation.cancel();
  }
}
