import type { NatsConnection } from "@nats-io/transport-node";
import { median, percentile } from "@gently/bench-stats";
import { call, connectBus, createLogger } from "@gently/bus";
import { hw, newUid, plan } from "@gently/protocol";
import { spawnService, startTestNats, tempStorage, type ServiceProcess } from "@gently/testing";

export interface SubmitLatencyResult {
  submits: number;
  submit_p50_ms: number;
  submit_p99_ms: number;
  /** a request to a bare echo responder on the same server, as many times, interleaved */
  nats_p50_ms: number;
  nats_p99_ms: number;
  /** the hardware's state read alone (what a submit waits for before its dry run), interleaved */
  hw_state_p50_ms: number;
  hw_state_p99_ms: number;
}

const ECHO_SUBJECT = "bench.echo";

/**
 * Plan submit → ack from a client on loopback, over `submits` submits of a
 * plan that moves the stage (so each is dry-run against a fresh hw.state and
 * limit-checked, as any plan that touches the hardware), beside the bare
 * NATS round trip measured in the same run. The real hardware and plan
 * runner processes serve it; a live view holds the hardware meanwhile, so
 * the submitted runs wait in the queue and each is removed after its ack
 * (the queue stays short, nothing moves).
 */
export async function benchSubmitLatency(opts: { submits?: number } = {}): Promise<SubmitLatencyResult> {
  const submits = opts.submits ?? 1000;
  const storage = tempStorage("gently-submit-bench-");
  const nats = await startTestNats();
  const env = { GENTLY_NATS_URL: nats.url, GENTLY_STORAGE: storage.dir, GENTLY_RING_PATH: `/dev/shm/gently-submit-bench-${newUid()}`, GENTLY_RING_SLOTS: "4", GENTLY_LOG_LEVEL: "warn" };
  const services: ServiceProcess[] = [];
  let nc: NatsConnection | undefined;
  try {
    for (const name of ["hardware", "writer", "plan-runner"]) services.push(spawnService(name, { ...env, GENTLY_LOG_LEVEL: "info" }));
    await Promise.all(services.map((s) => s.waitForLog((l) => l.includes('"msg":"started"'), 60_000)));
    nc = await connectBus({ servers: nats.url, name: "submit-bench", logger: createLogger("submit-bench", "silent") });
    const echo = nc.subscribe(ECHO_SUBJECT, {
      callback: (_err, msg) => {
        msg.respond(msg.data);
      },
    });
    const position = (await call(nc, hw.state, {})).position;
    const live = await call(nc, plan.submit, { plan: "live_view", params: { duration_s: 600, exposure_ms: 50 } });
    const move = { plan: "move_stage", params: { x_um: position.x_um, y_um: position.y_um } };
    const submitMs: number[] = [];
    const natsMs: number[] = [];
    const stateMs: number[] = [];
    const payload = new TextEncoder().encode(JSON.stringify(move));
    // warm-up: JIT and connections on both sides, not counted
    for (let i = 0; i < 20; i++) {
      const { run_uid } = await call(nc, plan.submit, move);
      await call(nc, plan.queueRemove, { run_uid });
      await nc.request(ECHO_SUBJECT, payload, { timeout: 5_000 });
    }
    for (let i = 0; i < submits; i++) {
      let t0 = performance.now();
      const { run_uid } = await call(nc, plan.submit, move);
      submitMs.push(performance.now() - t0);
      await call(nc, plan.queueRemove, { run_uid });
      t0 = performance.now();
      await nc.request(ECHO_SUBJECT, payload, { timeout: 5_000 });
      natsMs.push(performance.now() - t0);
      t0 = performance.now();
      await call(nc, hw.state, {});
      stateMs.push(performance.now() - t0);
    }
    echo.unsubscribe();
    await call(nc, plan.abort, { run_uid: live.run_uid, reason: "bench done" });
    return {
      submits,
      submit_p50_ms: median(submitMs),
      submit_p99_ms: percentile(submitMs, 99),
      nats_p50_ms: median(natsMs),
      nats_p99_ms: percentile(natsMs, 99),
      hw_state_p50_ms: median(stateMs),
      hw_state_p99_ms: percentile(stateMs, 99),
    };
  } finally {
    await nc?.close();
    for (const s of services.reverse()) await s.stop();
    await nats.stop();
    storage.remove();
  }
}
