import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NatsConnection } from "@nats-io/transport-node";
import { call, connectBus, createLogger, decodeJson } from "@gently/bus";
import { connect, readStored, type GentlyClient, type RunHandle } from "@gently/client";
import { DerivedWritten, GentlyError, hw, newUid, streams, subjects, type RunDocument, type RunProgress } from "@gently/protocol";
import { spawnService, startTestNats, tempStorage, waitFor, type ServiceProcess, type TestNats } from "@gently/testing";

const logger = createLogger("plan-runner-test", "silent");
/** small frames keep the suite fast; the ROI sits in the middle of the sensor, on the pinned embryo */
const ROI = { x: 896, y: 960, width: 256, height: 128 };

/** Collects the documents of a run as they are replayed (the run must end for this to return). */
async function documentsOf(run: RunHandle): Promise<RunDocument[]> {
  const docs: RunDocument[] = [];
  for await (const d of run.documents()) docs.push(d);
  return docs;
}

describe("plan runner (real nats-server, hardware, writer and plan-runner processes)", () => {
  let nats: TestNats;
  let nc: NatsConnection;
  let client: GentlyClient;
  let hardware: ServiceProcess;
  let writer: ServiceProcess;
  let planRunner: ServiceProcess;
  let sam: ServiceProcess;
  const storage = tempStorage("gently-plan-");
  const hwRequests: string[] = [];
  const moveBodies: unknown[] = [];
  let env: NodeJS.ProcessEnv;

  const hwState = () => call(nc, hw.state, {});
  const refusal = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e as GentlyError);
  const startPlanRunner = async () => {
    planRunner = spawnService("plan-runner", env);
    await planRunner.waitForLog((l) => l.includes('"msg":"started"'), 45_000);
  };

  beforeAll(async () => {
    nats = await startTestNats();
    // one embryo pinned under the start position (1500, 0), centred at piezo 50 µm; frames paced at 2 ms
    const simConfig = path.join(storage.dir, "sim.json");
    writeFileSync(
      simConfig,
      JSON.stringify({ frame_interval_ms: 2, embryos: [{ x_um: 1500, y_um: 0, z_um: 50, a_um: 25, b_um: 15, c_um: 15, angle_deg: 0 }] }),
    );
    env = {
      GENTLY_NATS_URL: nats.url,
      GENTLY_STORAGE: storage.dir,
      GENTLY_CONFIG: simConfig,
      GENTLY_RING_PATH: `/dev/shm/gently-plan-test-${newUid()}`,
      GENTLY_RING_SLOTS: "8",
    };
    hardware = spawnService("hardware", env);
    writer = spawnService("writer", env);
    sam = spawnService("sam", env);
    await Promise.all([hardware, writer, sam].map((p) => p.waitForLog((l) => l.includes('"msg":"started"'), 45_000)));
    nc = await connectBus({ servers: nats.url, name: "plan-runner-test", logger });
    for (const camera of ["HamCam1", "HamCam2"] as const) await call(nc, hw.setCamera, { camera, roi: ROI });
    // 256×128 px of 0.65 µm: 166×83 µm around the stage position, room for the 50×30 µm embryo
    await call(nc, hw.setCamera, { camera: "Bottom PCO", roi: { x: 896, y: 960, width: 256, height: 128 } });
    // a passive listener on the hardware's subjects: sees every request any client makes
    nc.subscribe(subjects.hw.all, {
      callback: (_err, msg) => {
        hwRequests.push(msg.subject);
        if (msg.subject === subjects.hw.move) moveBodies.push(decodeJson(msg.data));
      },
    });
    await startPlanRunner();
    client = await connect({ url: nats.url, storage: storage.dir, reconnect: false });
  });

  afterAll(async () => {
    await client?.close();
    await planRunner?.stop();
    await sam?.stop();
    await writer?.stop();
    await hardware?.stop();
    await nc?.close();
    await nats?.stop();
    storage.remove();
  });

  it("refuses a timelapse with a slice out of range before anything moves, listing every violation", async () => {
    const before = await hwState();
    hwRequests.length = 0;
    // 100 slices from 129 µm in 2 µm steps: slice 37 (201 µm) and every later one are past the piezo's 200 µm
    const err = await refusal(
      client.submit("timelapse_volume", { num_timepoints: 3, interval_s: 5, num_slices: 100, piezo_center_um: 228, piezo_amplitude_um: 99 }),
    );
    expect(err).toBeInstanceOf(GentlyError);
    expect(err!.code).toBe("limit_violation");
    const violations = (err!.details as { violations: { where: string; value: number; max: number; device: string }[] }).violations;
    expect(violations).toHaveLength(64 * 3);
    expect(violations.find((v) => v.where === "timepoint 2, slice 37")).toMatchObject({ device: "PiezoStage:P:34", value: 201, max: 200 });
    expect(err!.message).toMatch(/nothing moved/);
    // nothing but state reads reached the hardware, and nothing changed there
    expect(hwRequests.filter((s) => s !== subjects.hw.state)).toEqual([]);
    expect(await hwState()).toMatchObject({ position: before.position, laser: before.laser, acquisition: null });
    expect((await client.queue()).queued).toEqual([]);
  });

  it("refuses a timelapse interval shorter than a volume, naming both", async () => {
    const err = await refusal(client.submit("timelapse_volume", { num_timepoints: 3, interval_s: 0.1, num_slices: 100, exposure_ms: 5 }));
    expect(err?.code).toBe("invalid_request");
    expect(err?.field).toBe("interval_s");
    expect(err?.message).toBe("interval_s 0.1 s is shorter than one volume (100 slices × 5 ms exposure = 0.5 s): use at least 0.5 s, or 0 for volumes back to back");
    expect((await client.queue()).queued).toEqual([]);
  });

  it("runs a timelapse with interval_s 0 as one continuous sequence: each volume its own file and event as it is written", async () => {
    hwRequests.length = 0;
    const run = await client.submit("timelapse_volume", { num_timepoints: 4, interval_s: 0, num_slices: 10, exposure_ms: 5, piezo_center_um: 0, piezo_amplitude_um: 5, galvo_amplitude_deg: 0.05 });
    const result = await run.done();
    expect(result.status, result.reason).toBe("success");
    expect(result.volume_uids).toHaveLength(4);
    const primary = result.events.filter((e) => e.stream === "primary");
    expect(primary.map((e) => e.data.timepoint)).toEqual([1, 2, 3, 4]);
    expect(primary.map((e) => e.data.volume_uid)).toEqual(result.volume_uids);
    for (const e of primary) {
      expect(existsSync(e.data.path as string)).toBe(true);
      expect(e.data.shape).toEqual([10, 128, 256]);
    }
    // one sequence for all four volumes
    expect(hwRequests.filter((s) => s === subjects.hw.startSequence)).toHaveLength(1);
  });

  it("aborts a continuous timelapse at once: the sequence stops, lasers off, the volumes written so far stay in the run", async () => {
    const run = await client.submit("timelapse_volume", { num_timepoints: 200, interval_s: 0, num_slices: 20, exposure_ms: 5, piezo_center_um: 0, piezo_amplitude_um: 5, galvo_amplitude_deg: 0.05 });
    const phases: RunProgress[] = [];
    run.onProgress((p) => phases.push(p));
    await waitFor(() => phases.some((p) => p.done >= 2 * 20 * 2), 20_000, "two volumes acquired");
    await client.abort(run.run_uid, "enough");
    const result = await run.done();
    expect(result.status).toBe("abort");
    expect(result.volume_uids.length).toBeGreaterThanOrEqual(1);
    expect(result.volume_uids.length).toBeLessThan(200);
    const state = await hwState();
    expect(state.laser).toBe("ALL OFF");
    expect(state.acquisition).toBeNull();
  });

  it("refuses a plan off the allow-list, naming the allowed plans", async () => {
    const err = await refusal(client.submit("format_disk", {}));
    expect(err?.code).toBe("unknown_plan");
    expect(err?.message).toMatch(/allowed plans: move_stage, get_position, acquire_volume/);
  });

  it("serves every plan as a tool definition", async () => {
    const tools = await client.tools();
    expect(tools.map((t) => t.name)).toContain("calibrate_piezo_galvo");
    expect(tools.find((t) => t.name === "move_stage")?.input_schema).toMatchObject({ required: ["x_um", "y_um"] });
  });

  let acquired: { run_uid: string; docs: RunDocument[] };

  it("acquires a volume: documents in event-model order, the file on disk, and loadVolume reads its pixels", async () => {
    const progress: RunProgress[] = [];
    const run = await client.submit("acquire_volume", { num_slices: 12, exposure_ms: 2, piezo_center_um: 0, piezo_amplitude_um: 5, galvo_amplitude_deg: 0.05 }, { session_id: "plan-test" });
    run.onProgress((p) => progress.push(p));
    const result = await run.done();
    expect(result).toMatchObject({ status: "success", plan_name: "acquire_volume", session_id: "plan-test" });
    expect(result.volumes).toHaveLength(1);
    const ref = result.volumes[0]!;
    expect(ref.shape).toEqual([12, 128, 256]);
    expect(ref.dtype).toBe("uint16");
    expect(existsSync(ref.path)).toBe(true);
    expect(result.result).toMatchObject({ uid: ref.uid, path: ref.path, shape: [12, 128, 256], dtype: "uint16", session_id: "plan-test" });

    const docs = await documentsOf(run);
    expect(docs.map((d) => d.kind)).toEqual(["start", "descriptor", "stream_resource", "stream_datum", "event", "descriptor", "event", "stop"]);
    const [start, , resource, datum, event] = docs;
    expect(start).toMatchObject({ kind: "start", doc: { uid: run.run_uid, plan_name: "acquire_volume", session_id: "plan-test", num_points: 12 } });
    expect(start!.doc).toMatchObject({ plan_args: { num_slices: 12, laser_config: "488 and 561", cameras: ["HamCam1"] } });
    expect(resource).toMatchObject({ kind: "stream_resource", doc: { uid: ref.uid, path: ref.path, mimetype: "image/tiff; application=ome", shape: [12, 128, 256], dtype: "uint16" } });
    expect(datum).toMatchObject({ kind: "stream_datum", doc: { stream_resource: ref.uid, indices: { start: 0, stop: 12 } } });
    expect(event).toMatchObject({ kind: "event", doc: { seq_num: 1, data: { volume_uid: ref.uid } } });
    expect(docs.at(-1)).toMatchObject({ kind: "stop", doc: { exit_status: "success", volume_uids: [ref.uid], num_events: { primary: 1, result: 1 } } });
    expect(progress.at(-1)).toMatchObject({ phase: "done", done: 12, total: 12 });

    const volume = await client.loadVolume(ref.uid);
    expect(volume.shape).toEqual([12, 128, 256]);
    expect(volume.data).toBeInstanceOf(Uint16Array);
    expect(volume.data.length).toBe(12 * 128 * 256);
    // the sim's dark offset is 100 ADU: real pixels, not zeros
    expect(Math.max(...volume.data.subarray(0, 128 * 256))).toBeGreaterThan(100);
    // one plane, and a block of it, by uid: the same pixels as the whole volume's
    const slice = await client.loadSlice(ref.uid, 7);
    expect(slice.shape).toEqual([128, 256]);
    expect(slice.data).toEqual(volume.data.subarray(7 * 128 * 256, 8 * 128 * 256));
    const block = await client.loadSubVolume(ref.uid, { z: [3, 5], y: [10, 12], x: [100, 104] });
    expect(block.shape).toEqual([2, 2, 4]);
    const at = (z: number, y: number, x: number) => volume.data[(z * 128 + y) * 256 + x]!;
    expect([...block.data]).toEqual([3, 4].flatMap((z) => [10, 11].flatMap((y) => [100, 101, 102, 103].map((x) => at(z, y, x)))));
    expect((await hwState()).laser).toBe("ALL OFF");
    acquired = { run_uid: run.run_uid, docs };
  });

  it("replays a run's documents to a client that connects after it ended", async () => {
    const late = await connect({ url: nats.url, reconnect: false });
    try {
      const docs = await documentsOf(late.run(acquired.run_uid));
      expect(docs.map((d) => d.doc.uid)).toEqual(acquired.docs.map((d) => d.doc.uid));
    } finally {
      await late.close();
    }
  });

  it("aborts mid-volume: the sequence stops, lasers are ALL OFF and the run's stop says abort", async () => {
    // 2000 slices at ≥2 ms each: seconds of acquisition to abort into
    const run = await client.submit("acquire_volume", { num_slices: 2000, exposure_ms: 2, piezo_center_um: 0, piezo_amplitude_um: 10, galvo_amplitude_deg: 0.1, laser_config: "488 only" });
    const framesSeen = new Promise<void>((resolve) => run.onProgress((p) => p.phase === "acquiring" && p.done > 0 && resolve()));
    await framesSeen;
    const lit = await hwState();
    expect(lit.laser).toBe("488 only");
    expect(lit.acquisition).not.toBeNull();
    expect(await client.abort()).toMatchObject({ run_uid: run.run_uid, effect: "aborting" });
    const result = await run.done();
    expect(result.status).toBe("abort");
    expect(result.stop.exit_status).toBe("abort");
    expect(result.reason).toMatch(/aborted/);
    const after = await hwState();
    expect(after.laser).toBe("ALL OFF");
    expect(after.acquisition).toBeNull();
    expect(hwRequests).toContain(subjects.hw.stopSequence);
  });

  it("aborts a live view: the live step's teardown stops the stream, the plan's teardown switches the lasers off", async () => {
    const stopsBefore = hwRequests.filter((s) => s === subjects.hw.stopSequence).length;
    const run = await client.submit("live_view", { camera: "HamCam1", exposure_ms: 10, laser_config: "561 only", duration_s: 60 });
    try {
      await waitFor(() => hwRequests.includes(subjects.hw.startLive) && hwRequests.lastIndexOf(subjects.hw.keepalive) > hwRequests.lastIndexOf(subjects.hw.startLive), 20_000, "the live stream to run");
      expect((await hwState()).laser).toBe("561 only");
    } finally {
      await client.abort();
    }
    const result = await run.done();
    expect(result.status).toBe("abort");
    expect(hwRequests.filter((s) => s === subjects.hw.stopSequence)).toHaveLength(stopsBefore + 1);
    expect((await hwState()).laser).toBe("ALL OFF");
  });

  it("pauses a timelapse between volumes (the volume in progress completes) and resumes it", async () => {
    const slices = 150;
    // an interval of one volume's exposures (interval_s 0 would run them as one continuous sequence, with no boundary to pause at)
    const run = await client.submit("timelapse_volume", { num_timepoints: 3, interval_s: 0.3, num_slices: slices, exposure_ms: 2, piezo_center_um: 0, piezo_amplitude_um: 5, galvo_amplitude_deg: 0.05 });
    const phases: RunProgress[] = [];
    const paused = new Promise<void>((resolve) =>
      run.onProgress((p) => {
        phases.push(p);
        if (p.phase === "paused") resolve();
      }),
    );
    await waitFor(() => phases.some((p) => p.phase === "acquiring" && p.done > 0), 20_000, "first volume acquiring");
    expect((await client.pause()).effect).toBe("pausing");
    await paused;
    // held at a volume boundary: whole volumes only, and nothing acquiring
    expect((await client.status()).state).toBe("paused");
    const pausedAt = phases.findLast((p) => p.phase === "paused")!;
    expect(pausedAt.done % slices).toBe(0);
    expect(pausedAt.done).toBeLessThan(3 * slices);
    const heldVolumes = pausedAt.done / slices;
    await new Promise((r) => setTimeout(r, 500));
    expect((await hwState()).acquisition).toBeNull();
    expect((await client.status()).current?.done).toBe(pausedAt.done);
    expect((await client.resume()).effect).toBe("resumed");
    const result = await run.done();
    expect(result.status).toBe("success");
    expect(result.volume_uids).toHaveLength(3);
    expect(result.result).toMatchObject({ volume_uids: result.volume_uids });
    expect(result.events.filter((e) => e.stream === "primary").map((e) => e.data.timepoint)).toEqual([1, 2, 3]);
    // the documents put the pause between volume heldVolumes and the next
    expect(phases.findIndex((p) => p.phase === "paused")).toBeLessThan(
      phases.findIndex((p) => p.phase === "acquiring" && p.message?.startsWith(`timepoint ${heldVolumes + 1}`)),
    );
  });

  it("stops a timelapse during its wait: the run ends successfully with the volumes so far, and a client joining late sees it all", async () => {
    const run = await client.submit("timelapse_volume", { num_timepoints: 3, interval_s: 60, num_slices: 10, exposure_ms: 2, piezo_center_um: 0, piezo_amplitude_um: 5, galvo_amplitude_deg: 0.05 });
    const phases: RunProgress[] = [];
    run.onProgress((p) => phases.push(p));
    await waitFor(() => phases.some((p) => p.phase === "waiting"), 20_000, "wait for timepoint 2");
    // a second client, connected mid-run, replays from the start
    const late = await connect({ url: nats.url, reconnect: false });
    const lateDocs = documentsOf(late.run(run.run_uid));
    expect((await client.stop()).effect).toBe("stopping");
    const result = await run.done();
    expect(result).toMatchObject({ status: "success", reason: "stopped by request after 2 of 5 steps" });
    expect(result.volume_uids).toHaveLength(1);
    const docs = await lateDocs;
    await late.close();
    expect(docs[0]).toMatchObject({ kind: "start", doc: { uid: run.run_uid } });
    expect(docs.at(-1)).toMatchObject({ kind: "stop", doc: { exit_status: "success", volume_uids: result.volume_uids } });
  });

  it("queues runs first in, first out; a removed run ends as aborted without touching the hardware", async () => {
    const first = await client.submit("acquire_volume", { num_slices: 400, exposure_ms: 2, piezo_center_um: 0, piezo_amplitude_um: 5, galvo_amplitude_deg: 0.05 });
    const second = await client.submit("move_stage", { x_um: 1510, y_um: 0 });
    const third = await client.submit("move_stage", { x_um: 1500, y_um: 0 });
    expect([first.position, second.position, third.position]).toEqual([0, 1, 2]);
    const queue = await client.queue();
    expect(queue.current?.run_uid).toBe(first.run_uid);
    expect(queue.queued.map((q) => q.run_uid)).toEqual([second.run_uid, third.run_uid]);
    expect((await client.moveInQueue(third.run_uid, 1)).queued.map((q) => q.run_uid)).toEqual([third.run_uid, second.run_uid]);
    await client.removeFromQueue(second.run_uid);
    // a read-only plan does not wait behind the acquisition
    const position = await client.submit("get_position", {});
    expect(position.position).toBe(0);
    expect((await position.done()).result).toMatchObject({ x_um: 1500, y_um: 0 });
    expect((await second.done())).toMatchObject({ status: "abort", reason: /removed from the queue/ });
    expect((await first.done()).status).toBe("success");
    expect((await third.done())).toMatchObject({ status: "success", result: { x_um: 1500, y_um: 0 } });
    expect(moveBodies).toContainEqual({ axis: "xy", x_um: 1500, y_um: 0 });
    expect(moveBodies).not.toContainEqual({ axis: "xy", x_um: 1510, y_um: 0 });
  });

  it("finds the sharpest galvo angle with a focus sweep, and calibrates galvo against piezo", async () => {
    // the sim's sheet is in focus at galvo = 0.02 °/µm × piezo − 1°
    const sweep = await client.submit("focus_sweep", { galvo_positions_deg: [-0.06, -0.04, -0.02, 0, 0.02, 0.04, 0.06], piezo_um: 50 });
    const focus = await sweep.done();
    expect(focus.status).toBe("success");
    expect(focus.result?.scores).toHaveLength(7);
    expect(focus.result?.best_galvo_deg).toBe(0);
    expect(focus.volumes).toHaveLength(7);

    const galvos = Array.from({ length: 11 }, (_, i) => Number((-0.3 + i * 0.06).toFixed(2)));
    const calibration = await client.submit("calibrate_piezo_galvo", { piezo_positions_um: [42, 50, 58], galvo_positions_deg: galvos });
    const cal = await calibration.done();
    expect(cal.status).toBe("success");
    const fit = cal.result as { slope_deg_per_um: number; offset_deg: number; r2: number; calibration_uid: string; path: string };
    expect(fit.slope_deg_per_um).toBeGreaterThan(0.014);
    expect(fit.slope_deg_per_um).toBeLessThan(0.026);
    // in focus at the centre of the calibrated range (the offset itself is extrapolated 50 µm)
    expect(Math.abs(fit.slope_deg_per_um * 50 + fit.offset_deg)).toBeLessThan(0.04);
    expect(fit.r2).toBeGreaterThan(0.95);
    const residuals = (cal.result as { residuals_deg: number[] }).residuals_deg;
    expect(residuals).toHaveLength(3);
    for (const r of residuals) expect(Math.abs(r)).toBeLessThan(0.03);
    expect(fit.path.startsWith(path.join(storage.dir, "derived"))).toBe(true);
    expect(JSON.parse(readFileSync(fit.path, "utf8"))).toMatchObject({ uid: fit.calibration_uid, kind: "piezo_galvo", slope_deg_per_um: fit.slope_deg_per_um });
    const announced = (await readStored(nc, streams.data.name, subjects.derived.written)).map((m) => DerivedWritten.parse(decodeJson(m.data)));
    expect(announced.find((d) => d.uid === fit.calibration_uid)).toMatchObject({ data_type: "calibration", path: fit.path, run_uid: calibration.run_uid });
    expect((await hwState()).laser).toBe("ALL OFF");
  });

  it("reports no focus peak for a sweep that misses the sample, and stores no calibration from such sweeps", async () => {
    // no embryo near piezo 150 µm: the frames are background, whatever the galvo does
    const flat = await (await client.submit("focus_sweep", { galvo_positions_deg: [2.6, 2.8, 3, 3.2, 3.4], piezo_um: 150 })).done();
    expect(flat.status).toBe("success");
    const result = flat.result as { found: boolean; reason: string; contrast: number };
    expect(result.found).toBe(false);
    expect(result.reason, JSON.stringify(flat.result)).toMatch(/^no focus peak: the scores vary by/);
    expect(result.contrast).toBeLessThan(0.3);
    expect(result).not.toHaveProperty("peak_galvo_deg");

    const before = (await readStored(nc, streams.data.name, subjects.derived.written)).length;
    const galvos = [-0.3, -0.15, 0, 0.15, 0.3];
    const cal = await (await client.submit("calibrate_piezo_galvo", { piezo_positions_um: [140, 150, 160], galvo_positions_deg: galvos.map((g) => g + 3) })).done();
    expect(cal.status).toBe("success");
    expect(cal.result).toMatchObject({ fitted: false });
    expect((cal.result as { reason: string }).reason).toMatch(/^a fit needs focus peaks in at least two sweeps, found 0 of 3; piezo 140 µm: no focus peak/);
    expect(cal.result).not.toHaveProperty("calibration_uid");
    expect((await readStored(nc, streams.data.name, subjects.derived.written)).length).toBe(before);
  });

  it("sets laser line powers and reads them back; a power above its line's cap refuses the plan before anything changes", async () => {
    const set = await (await client.submit("set_laser_power", { power_488_pct: 5, power_561_pct: 7.5 })).done();
    expect(set.status, set.reason).toBe("success");
    expect(set.result).toEqual({ power_405_pct: 0, power_488_pct: 5, power_561_pct: 7.5, power_637_pct: 0 });
    const refused = await client.submit("set_laser_power", { power_561_pct: 1, power_488_pct: 6.5 }).then(
      () => null,
      (e: GentlyError) => e,
    );
    expect(refused?.code).toBe("limit_violation");
    expect(refused?.message).toContain("laser 488 nm power_pct 6.5 is above the maximum 6 (limits 0..6) (laser power)");
    expect((await hwState()).laser_power_pct).toEqual({ "405": 0, "488": 5, "561": 7.5, "637": 0 });
    const status = (await (await client.submit("status", {})).done()).result as { laser_power_pct: object; core_info: { sweep_mode: string } };
    expect(status.laser_power_pct).toEqual({ "405": 0, "488": 5, "561": 7.5, "637": 0 });
    expect(status.core_info.sweep_mode).toBe("hardware");
  });

  it("switches and reads the illumination, reports status, and finds the embryo in a bottom snap with the SAM service", async () => {
    const set = await (await client.submit("set_illumination", { laser_config: "561 only", led: "Open" })).done();
    expect(set).toMatchObject({ status: "success", result: { laser_config: "561 only", led: "Open" } });
    // set_illumination's lasers stay on: that is what it is for
    expect((await (await client.submit("get_illumination", {})).done()).result).toEqual({ laser_config: "561 only", led: "Open" });
    await (await client.submit("set_illumination", { laser_config: "ALL OFF" })).done();
    const status = (await (await client.submit("status", {})).done()).result as { limits: { piezo_um: { max: number } }; runner: { state: string }; led: string };
    expect(status).toMatchObject({ limits: { piezo_um: { max: 200 } }, led: "Open" });
    expect(["idle", "running"]).toContain(status.runner.state);

    const snap = await (await client.submit("snap_bottom", { exposure_ms: 10 })).done();
    expect(snap.status).toBe("success");
    const image = snap.result as { uid: string; shape: number[] };
    expect(image.shape.slice(-2)).toEqual([128, 256]);
    const detection = await (await client.submit("detect_embryos", { image_uid: image.uid })).done();
    expect(detection.status, detection.reason).toBe("success");
    const found = detection.result as { count: number; embryos: { stage_x_um: number; stage_y_um: number }[]; detection_uid: string };
    expect(found.count).toBe(1);
    expect(Math.abs(found.embryos[0]!.stage_x_um - 1500)).toBeLessThan(10);
    expect(Math.abs(found.embryos[0]!.stage_y_um)).toBeLessThan(10);
  });

  it("keeps its history across a plan-runner restart", async () => {
    const before = await client.history({ limit: 100 });
    expect(before.length).toBeGreaterThanOrEqual(8);
    expect(before.find((h) => h.run_uid === acquired.run_uid)).toMatchObject({ plan: "acquire_volume", exit_status: "success", session_id: "plan-test" });
    expect(await planRunner.stop()).toBe(0);
    await startPlanRunner();
    const after = await waitFor(() => client.history({ limit: 100 }), 20_000, "history after restart");
    expect(after).toEqual(before);
    expect(await client.history({ limit: 100, session_id: "plan-test" })).toHaveLength(1);
  });

  it("closes a run cut off by a plan-runner crash when it starts again, then runs the runs queued behind it in their order; the hardware's watchdog has switched the lasers off", async () => {
    const run = await client.submit("acquire_volume", { num_slices: 2000, exposure_ms: 2, piezo_center_um: 0, piezo_amplitude_um: 10, galvo_amplitude_deg: 0.1 });
    const queuedFirst = await client.submit("move_stage", { x_um: 1505, y_um: 0 });
    const queuedSecond = await client.submit("move_stage", { x_um: 1500, y_um: 0 });
    expect([queuedFirst.position, queuedSecond.position]).toEqual([1, 2]);
    await new Promise<void>((resolve) => run.onProgress((p) => p.phase === "acquiring" && p.done > 0 && resolve()));
    const movesBefore = moveBodies.length;
    await planRunner.kill();
    // no keepalive any more: the hardware stops the sequence within keepalive_ms (5 s)
    await waitFor(async () => (await hwState()).acquisition === null, 20_000, "the watchdog to stop the sequence");
    expect((await hwState()).laser).toBe("ALL OFF");
    await startPlanRunner();
    const result = await run.done();
    expect(result).toMatchObject({ status: "fail", reason: "the plan runner stopped during the run" });
    expect(planRunner.lines.some((l) => l.includes('"runs":2') && l.includes("queued runs restored"))).toBe(true);
    expect(await queuedFirst.done()).toMatchObject({ status: "success", result: { x_um: 1505, y_um: 0 } });
    expect(await queuedSecond.done()).toMatchObject({ status: "success", result: { x_um: 1500, y_um: 0 } });
    expect(moveBodies.slice(movesBefore)).toEqual([
      { axis: "xy", x_um: 1505, y_um: 0 },
      { axis: "xy", x_um: 1500, y_um: 0 },
    ]);
    expect((await client.history({ limit: 3 })).map((h) => [h.run_uid, h.exit_status])).toEqual([
      [queuedSecond.run_uid, "success"],
      [queuedFirst.run_uid, "success"],
      [run.run_uid, "fail"],
    ]);
    // and it takes new runs
    expect((await (await client.submit("get_position", {})).done()).status).toBe("success");
  });
});
