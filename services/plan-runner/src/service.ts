import type { NatsConnection } from "@nats-io/transport-node";
import { ensureStream, handle, jetStreamOf, startMicroService, type Logger } from "@gently/bus";
import { planTools, plan, streams } from "@gently/protocol";
import { RunDocuments } from "./documents";
import { DocumentReplay } from "./document-replay";
import { RunHistory } from "./history";
import { QueueStore } from "./queue-store";
import { Scheduler, type QueueLimits } from "./scheduler";
import { VolumeAnnouncements } from "./volume-events";
import { VERSION } from "./version";

export interface PlanRunnerOptions {
  nc: NatsConnection;
  logger: Logger;
  /** storage root: where volumes are read for focus scores and calibration records are written */
  storage: string;
  /** the hardware stops a sequence whose owner is silent this long (default 5 s) */
  keepaliveMs?: number;
  /** queue and read-only run limits (default 100 and 16) */
  limits?: QueueLimits;
}

/**
 * The plan runner: serves gently.plan.*, runs plans against gently.hw.*,
 * publishes run documents into GENTLY_RUNS. Runs cut off by a crash are
 * closed (a stop document saying so) when it starts again; runs still queued
 * then (kept in the KV bucket gently_plan_queue) run in their order. A clean
 * stop ends the queued runs as aborted, saying so.
 */
export async function startPlanRunner(opts: PlanRunnerOptions): Promise<{ stop(): Promise<void> }> {
  const { nc, logger } = opts;
  const { js, jsm } = await jetStreamOf(nc);
  await ensureStream(jsm, streams.runs, { owner: true });
  await ensureStream(jsm, streams.data);

  const { history, interrupted } = await RunHistory.load(nc, logger);
  for (const start of interrupted) {
    const reason = "the plan runner stopped during the run";
    const stop = await new RunDocuments(js, nc, start.uid).stop("fail", reason, start.plan_name);
    history.add({
      run_uid: start.uid,
      plan: start.plan_name,
      params: start.plan_args,
      session_id: start.session_id,
      started: new Date(start.time * 1000).toISOString(),
      ended: new Date(stop.time * 1000).toISOString(),
      exit_status: "fail",
      reason,
      volume_uids: [],
    });
    logger.warn({ run_uid: start.uid, plan: start.plan_name }, "closed a run cut off by a restart");
  }
  logger.info({ runs: history.size }, "run history loaded");

  const queueStore = await QueueStore.open(nc, logger);
  const volumes = new VolumeAnnouncements(nc, logger);
  const scheduler = new Scheduler(
    { deps: { nc, logger, volumes, keepaliveMs: opts.keepaliveMs ?? 5_000 }, js, storage: opts.storage, logger },
    history,
    logger,
    queueStore,
    opts.limits,
  );
  const restored = scheduler.restore(await queueStore.load());
  if (restored > 0) logger.info({ runs: restored }, "queued runs restored from before the restart");
  const tools = planTools();
  const replay = new DocumentReplay(nc);
  const service = await startMicroService(nc, {
    name: "plan-runner",
    version: VERSION,
    description: "allow-listed plans: validation before motion, queue, run documents",
    logger,
    handlers: [
      handle(plan.submit, (req) => scheduler.submit(req)),
      handle(plan.tools, () => ({ tools })),
      handle(plan.pause, (req) => scheduler.pause(req.run_uid)),
      handle(plan.resume, (req) => scheduler.resume(req.run_uid)),
      handle(plan.abort, (req) => scheduler.abort(req.run_uid, req.reason)),
      handle(plan.stop, (req) => scheduler.stop(req.run_uid)),
      handle(plan.queue, () => scheduler.queueReply()),
      handle(plan.queueMove, (req) => scheduler.moveInQueue(req.run_uid, req.position)),
      handle(plan.queueRemove, (req) => scheduler.removeFromQueue(req.run_uid)),
      handle(plan.history, (req) => ({ runs: history.list(req) })),
      handle(plan.status, () => scheduler.status()),
      handle(plan.documents, (req) => replay.page(req)),
    ],
  });
  return {
    stop: async () => {
      await service.stop();
      await scheduler.close("the plan runner is stopping");
      volumes.close();
    },
  };
}
