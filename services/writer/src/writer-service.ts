import { readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import os from "node:os";
import type { NatsConnection } from "@nats-io/transport-node";
import { ensureStream, handle, jetStreamOf, startMicroService, type Logger, type RequestContext } from "@gently/bus";
import { frameSink, GentlyError, streams, type AcquisitionBegin, type AcquisitionBeginReply } from "@gently/protocol";
import type { Ring } from "@gently/ring";
import { Acquisition } from "./acquisition";
import { Announcer } from "./announce";
import type { WriterConfig } from "./config";
import { failureOf, toGentlyError, type Failure } from "./failure";
import { frameBytes } from "./frame-size";
import { recoverLeftovers } from "./leftovers";
import { omeTiffFormat } from "./ome-tiff-format";
import { RingCache } from "./ring-cache";
import { StorageBudget } from "./storage-budget";
import type { OpenedVolume, VolumeFormat } from "./volume-format";

const VERSION = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;

export interface WriterOptions {
  nc: NatsConnection;
  logger: Logger;
  config: WriterConfig;
  format?: VolumeFormat;
  /** reported in the begin reply; defaults to host:pid */
  instance?: string;
}

export interface RunningWriter {
  /** acquisitions being written now */
  readonly active: number;
  stop(): Promise<void>;
}

/**
 * The writer: answers begin for every acquisition (one writer of the queue
 * group takes each), writes its frames from the ring into a volume file and
 * announces the result on GENTLY_DATA. On start, partial files of a writer
 * killed mid-volume are quarantined and announced as failed.
 */
export async function startWriter(opts: WriterOptions): Promise<RunningWriter> {
  const { nc, logger, config } = opts;
  const format = opts.format ?? omeTiffFormat;
  const instance = opts.instance ?? `${os.hostname()}:${process.pid}`;
  await mkdir(config.quarantineDir, { recursive: true });

  const { js, jsm } = await jetStreamOf(nc);
  await ensureStream(jsm, streams.data, { owner: true });
  const announcer = new Announcer(js, logger);
  const recovered = await recoverLeftovers({ volumesDir: config.volumesDir, quarantineDir: config.quarantineDir, announcer, logger });
  if (recovered > 0) logger.warn({ count: recovered }, "quarantined partial volumes of an earlier writer");

  const rings = new RingCache();
  const budget = new StorageBudget(config.volumesDir, config.quarantineDir, config.quotaBytes, config.reserveBytes);
  const active = new Map<string, Acquisition>();
  // Begins are admitted one at a time so two cannot both claim the same free space.
  let admitting: Promise<unknown> = Promise.resolve();

  async function announceRefusal(begin: AcquisitionBegin, failure: Failure): Promise<void> {
    await announcer
      .failed({
        uid: begin.volume_uid,
        session_id: begin.session_id,
        ...(begin.run_uid !== undefined ? { run_uid: begin.run_uid } : {}),
        reason: failure.reason,
        code: failure.code,
        failed: new Date().toISOString(),
      })
      .catch((err) => logger.error({ err: String(err), uid: begin.volume_uid }, "volume.failed could not be published"));
  }

  async function admit(begin: AcquisitionBegin, ctx: RequestContext): Promise<AcquisitionBeginReply> {
    const token = ctx.msg.subject.split(".")[2];
    if (token !== begin.acq_id) {
      throw new GentlyError("invalid_request", `acq_id ${begin.acq_id} does not match the subject ${ctx.msg.subject}`, "acq_id");
    }
    // A second begin for what is already being written is not this volume's failure: no announcement.
    if (active.has(begin.acq_id)) throw new GentlyError("conflict", `acquisition ${begin.acq_id} is already being written`, "acq_id");
    for (const a of active.values()) {
      if (a.begin.volume_uid === begin.volume_uid) {
        throw new GentlyError("conflict", `volume ${begin.volume_uid} is already being written`, "volume_uid");
      }
    }

    let ring: Ring;
    try {
      ring = rings.take(begin.ring_path);
    } catch (err) {
      const failure: Failure = { code: "invalid_request", reason: `cannot map the frame ring ${begin.ring_path}: ${(err as Error).message}` };
      await announceRefusal(begin, failure);
      throw toGentlyError(failure, "ring_path");
    }
    let opened: OpenedVolume | undefined;
    try {
      const planeBytes = frameBytes(begin);
      if (planeBytes > ring.slotBytes) {
        throw new GentlyError("invalid_request", `a ${begin.width}×${begin.height} ${begin.dtype} frame (${planeBytes} bytes) does not fit a ${ring.slotBytes}-byte ring slot`, "width");
      }
      opened = await format.open(begin, config.volumesDir);
      await budget.admit(begin.volume_uid, opened.plannedBytes, opened.tempPath);
    } catch (err) {
      rings.put(ring);
      if (opened) await opened.sink.abort().catch(() => undefined);
      const failure = failureOf(err, `refusing volume ${begin.volume_uid}`);
      // "exists": that uid is already a finished volume, which stays valid.
      if (failure.code !== "conflict") await announceRefusal(begin, failure);
      throw toGentlyError(failure, err instanceof GentlyError ? err.field : undefined);
    }

    const acq = new Acquisition({
      begin,
      opened,
      ring,
      announcer,
      logger,
      quarantineDir: config.quarantineDir,
      storageDir: config.storageDir,
      frameTimeoutMs: config.frameTimeoutMs,
      progressEveryFrames: config.progressEveryFrames,
    });
    active.set(begin.acq_id, acq);
    acq.listen(nc);
    // The subscriptions reach the server before the reply does: no frame can be published to nobody.
    await nc.flush();
    void acq.outcome.then(() => budget.release(begin.volume_uid));
    void Promise.all([acq.outcome, acq.closed]).then(() => {
      active.delete(begin.acq_id);
      rings.put(ring);
    });
    logger.info(
      { acq_id: begin.acq_id, volume_uid: begin.volume_uid, frames: acq.expectedFrames, bytes: opened.plannedBytes, path: opened.finalPath },
      "acquisition begins",
    );
    return { ready: true, writer: instance, writer_id: ctx.serviceId };
  }

  const service = await startMicroService(nc, {
    name: "writer",
    version: VERSION,
    description: "writes frames from the shared-memory ring into volume files and announces them",
    logger,
    handlers: [
      handle(frameSink.begin, (begin, ctx) => {
        const run = admitting.then(() => admit(begin, ctx));
        admitting = run.catch(() => undefined);
        return run;
      }),
    ],
    metadata: { format: format.name, instance },
  });

  return {
    get active() {
      return active.size;
    },
    async stop() {
      await service.stop();
      const running = [...active.values()];
      if (running.length > 0) {
        logger.info({ count: running.length }, "waiting for running acquisitions to end");
        const grace = new Promise((r) => setTimeout(r, config.stopGraceMs).unref());
        await Promise.race([Promise.all(running.map((a) => a.outcome)), grace]);
        await Promise.all(
          [...active.values()].map((a) => a.abandon({ code: "unavailable", reason: "writer stopped before the volume ended" })),
        );
      }
      announcer.close();
      rings.closeAll();
    },
  };
}
