import type { NatsConnection } from "@nats-io/transport-node";
import { busOutages, call, subscribeValidated, type Logger } from "@gently/bus";
import { AcquisitionEnd, GentlyError, hw, newUid, subjects, type VolumeWritten } from "@gently/protocol";
import type { VolumeSpec } from "./steps";
import type { VolumeAnnouncements } from "./volume-events";

/** Keepalives double as the frame count: this often, progress moves per frame (5 updates a second). */
const PROGRESS_INTERVAL_MS = 200;

export interface AcquisitionDeps {
  nc: NatsConnection;
  logger: Logger;
  volumes: VolumeAnnouncements;
  /** the hardware stops a sequence whose owner is silent this long; keepalives go every third of it */
  keepaliveMs: number;
}

export interface Owner {
  session_id: string;
  run_uid: string;
  plan_name: string;
}

/** How long the writer may take after the last frame (fsync and rename), and a sequence may take to start. */
const WRITE_GRACE_MS = 30_000;
/** After an abort: how long to wait for the sequence's end before giving up on it. */
const ABORT_GRACE_MS = 5_000;

function deadlineFor(v: VolumeSpec): number {
  const frames = v.num_slices * v.cameras.length;
  // generous: a slow disk or a busy machine must not turn into a failed run
  return WRITE_GRACE_MS + 3 * frames * (v.exposure_ms + 20);
}

export function rejectAfter(ms: number, error: () => GentlyError): { promise: Promise<never>; clear(): void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(error()), ms);
  });
  // raced later (or never, when the step fails first): never an unhandled rejection
  promise.catch(() => undefined);
  return { promise, clear: () => clearTimeout(timer) };
}

const abortPromises = new WeakMap<AbortSignal, Promise<"aborted">>();

export function onAbort(signal: AbortSignal): Promise<"aborted"> {
  // one listener per run's signal, however many steps race against it (a calibration snaps hundreds of frames)
  let aborted = abortPromises.get(signal);
  if (!aborted) {
    aborted = new Promise((resolve) => {
      if (signal.aborted) resolve("aborted");
      else signal.addEventListener("abort", () => resolve("aborted"), { once: true });
    });
    abortPromises.set(signal, aborted);
  }
  return aborted;
}

/** Stops the hardware's sequence (its finally switches the lasers off); a failure to do so is logged, not thrown. */
async function stopSequence(deps: AcquisitionDeps, acq_id: string, reason: string): Promise<void> {
  await call(deps.nc, hw.stopSequence, { acq_id, reason: reason.slice(0, 500) }, { timeoutMs: 5_000 }).catch((err) =>
    deps.logger.warn({ acq_id, err: String(err) }, "stopping the sequence failed"),
  );
}

/** Starts the hardware's sequence for the first volume (and, continuous, the volumes after it) with the volume's settings and its owner. */
async function startSequence(
  deps: AcquisitionDeps,
  volume: VolumeSpec,
  owner: Owner,
  first: { acq_id: string; volume_uid: string },
  nextVolumes?: { acq_id: string; volume_uid: string }[],
): Promise<void> {
  await call(
    deps.nc,
    hw.startSequence,
    {
      ...first,
      session_id: owner.session_id,
      run_uid: owner.run_uid,
      plan_name: owner.plan_name,
      cameras: volume.cameras,
      num_slices: volume.num_slices,
      exposure_ms: volume.exposure_ms,
      sweep: volume.sweep,
      laser_config: volume.laser_config,
      keepalive_ms: deps.keepaliveMs,
      ...(nextVolumes === undefined ? {} : { next_volumes: nextVolumes }),
    },
    { timeoutMs: 15_000 },
  );
}

/**
 * One light-sheet volume: registers for the writer's announcement and the
 * frame stream's end, starts the sequence, keeps it alive, and returns the
 * written volume. A failed end, a failed write, an abort or a deadline ends
 * it with a clear error, and the sequence is stopped (lasers off) first.
 */
export async function acquireVolume(
  deps: AcquisitionDeps,
  volume: VolumeSpec,
  owner: Owner,
  signal: AbortSignal,
  onFrames: (done: number, total: number) => void,
): Promise<VolumeWritten> {
  if (signal.aborted) throw new GentlyError("aborted", "aborted before the volume started");
  const volume_uid = newUid();
  const acq_id = newUid();
  const total = volume.num_slices * volume.cameras.length;
  const startedAt = Date.now();
  const outages = busOutages(deps.nc);
  const expectation = deps.volumes.expect(volume_uid);
  let endFailed: (end: AcquisitionEnd) => void = () => undefined;
  const ended = new Promise<AcquisitionEnd>((resolve) => (endFailed = resolve));
  const endSub = subscribeValidated(
    deps.nc,
    subjects.frames.end(acq_id),
    AcquisitionEnd,
    (end) => {
      if (end.status !== "complete") endFailed(end);
    },
    { logger: deps.logger },
  );
  let keepalive: NodeJS.Timeout | undefined;
  const deadline = rejectAfter(deadlineFor(volume), () => new GentlyError("timeout", `volume ${volume_uid} was not written in time (acquisition ${acq_id})`));
  try {
    await startSequence(deps, volume, owner, { acq_id, volume_uid });
    let framesReported = -1;
    keepalive = setInterval(() => {
      call(deps.nc, hw.keepalive, { acq_id }, { timeoutMs: Math.max(1_000, deps.keepaliveMs / 3) })
        .then((r) => {
          const done = Math.min(r.frames_done, total);
          if (done === framesReported) return;
          framesReported = done;
          onFrames(done, total);
        })
        // the sequence may have just ended; the announcement or the end message says how
        .catch((err) => deps.logger.debug({ acq_id, err: String(err) }, "keepalive not taken"));
    }, Math.max(50, Math.min(PROGRESS_INTERVAL_MS, Math.floor(deps.keepaliveMs / 3))));

    const failedEnd = ended.then(async (end) => {
      // the writer's failure says more than the frame stream's end: give it a moment to arrive
      await new Promise((r) => setTimeout(r, 2_000));
      throw new GentlyError(end.status === "aborted" ? "aborted" : "device_error", `acquisition ${acq_id} ${end.status}: ${end.reason ?? "no reason given"}`);
    });
    const outcome = await Promise.race([expectation.written, failedEnd, onAbort(signal), deadline.promise]).catch(async (err) => {
      // a failed volume must not leave the sequence (and its lasers) running
      await stopSequence(deps, acq_id, err instanceof Error ? err.message : String(err));
      // an outage of the bus is the true cause of what failed after it (keepalives, frames and announcements were cut)
      const lostMs = outages.lostSince(startedAt);
      if (lostMs > 0 && !signal.aborted) {
        throw new GentlyError("unavailable", `lost the bus for ${(lostMs / 1000).toFixed(1)} s during volume ${volume_uid}; then: ${err instanceof Error ? err.message : String(err)}`);
      }
      throw err;
    });
    if (outcome !== "aborted") {
      onFrames(total, total);
      return outcome;
    }
    await stopSequence(deps, acq_id, String((signal.reason as Error)?.message ?? "aborted"));
    const settled = rejectAfter(ABORT_GRACE_MS, () => new GentlyError("aborted", "aborted"));
    await Promise.race([expectation.written, ended, settled.promise]).catch(() => undefined);
    settled.clear();
    throw new GentlyError("aborted", `aborted during volume ${volume_uid}`);
  } finally {
    clearInterval(keepalive);
    deadline.clear();
    endSub.unsubscribe();
    expectation.cancel();
  }
}

/**
 * Volumes back to back in one hardware sequence (continuous imaging): each
 * volume is its own file, and `onWritten` gets each as soon as the writer
 * announced it, while the camera goes on. Any volume failing, an abort or a
 * deadline stops the sequence (lasers off) and fails the step; the volumes
 * written before stay written (onWritten saw them).
 */
export async function acquireContinuous(
  deps: AcquisitionDeps,
  volume: VolumeSpec,
  count: number,
  owner: Owner,
  signal: AbortSignal,
  onFrames: (done: number, total: number) => void,
  onWritten: (written: VolumeWritten, index: number) => Promise<void>,
): Promise<void> {
  if (signal.aborted) throw new GentlyError("aborted", "aborted before the volumes started");
  const ids = Array.from({ length: count }, () => ({ acq_id: newUid(), volume_uid: newUid() }));
  const acq_id = ids[0]!.acq_id;
  const perVolume = volume.num_slices * volume.cameras.length;
  const total = perVolume * count;
  const startedAt = Date.now();
  const outages = busOutages(deps.nc);
  const expectations = ids.map((v) => deps.volumes.expect(v.volume_uid));
  let endFailed: (end: AcquisitionEnd) => void = () => undefined;
  const ended = new Promise<AcquisitionEnd>((resolve) => (endFailed = resolve));
  const endSubs = ids.map((v) =>
    subscribeValidated(deps.nc, subjects.frames.end(v.acq_id), AcquisitionEnd, (end) => {
      if (end.status !== "complete") endFailed(end);
    }, { logger: deps.logger }),
  );
  let keepalive: NodeJS.Timeout | undefined;
  const deadline = rejectAfter(WRITE_GRACE_MS + 3 * total * (volume.exposure_ms + 20), () => new GentlyError("timeout", `${count} continuous volumes were not written in time (sequence ${acq_id})`));
  try {
    await startSequence(deps, volume, owner, ids[0]!, ids.slice(1));
    keepalive = setInterval(() => {
      call(deps.nc, hw.keepalive, { acq_id }, { timeoutMs: Math.max(1_000, deps.keepaliveMs / 3) })
        .then((r) => onFrames(Math.min(r.frames_done, total), total))
        .catch((err) => deps.logger.debug({ acq_id, err: String(err) }, "keepalive not taken"));
    }, Math.max(50, Math.min(PROGRESS_INTERVAL_MS, Math.floor(deps.keepaliveMs / 3))));
    const failedEnd = ended.then(async (end) => {
      // the writer's failure says more than the frame stream's end: give it a moment to arrive
      await new Promise((r) => setTimeout(r, 2_000));
      throw new GentlyError(end.status === "aborted" ? "aborted" : "device_error", `acquisition ${end.acq_id} ${end.status}: ${end.reason ?? "no reason given"}`);
    });
    const stopped = Promise.race([failedEnd, onAbort(signal), deadline.promise]);
    // raced with each volume below; once the last is written nobody waits for it
    stopped.catch(() => undefined);
    for (const [index, expectation] of expectations.entries()) {
      const outcome = await Promise.race([expectation.written, stopped]).catch(async (err) => {
        await stopSequence(deps, acq_id, err instanceof Error ? err.message : String(err));
        const lostMs = outages.lostSince(startedAt);
        if (lostMs > 0 && !signal.aborted) {
          throw new GentlyError("unavailable", `lost the bus for ${(lostMs / 1000).toFixed(1)} s during continuous volume ${index + 1} of ${count}; then: ${err instanceof Error ? err.message : String(err)}`);
        }
        throw err;
      });
      if (outcome === "aborted") {
        await stopSequence(deps, acq_id, String((signal.reason as Error)?.message ?? "aborted"));
        throw new GentlyError("aborted", `aborted during continuous volume ${index + 1} of ${count}`);
      }
      onFrames((index + 1) * perVolume, total);
      await onWritten(outcome, index);
    }
  } finally {
    clearInterval(keepalive);
    deadline.clear();
    for (const sub of endSubs) sub.unsubscribe();
    for (const expectation of expectations) expectation.cancel();
  }
}
