import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NatsConnection } from "@nats-io/transport-node";
import { connect, type GentlyClient } from "@gently/client";
import { decodeJson } from "@gently/bus";
import { DeviceState, PreviewFrame, subjects, type RunProgress } from "@gently/protocol";
import { startTestSystem, waitFor, type TestSystem } from "@gently/testing";

/**
 * The system as `npm start` runs it on the default simulator (no pinned
 * sample, the real 2048×512 ROI, frames at the camera's own pace), each
 * process under its nats.conf account.
 */
describe("simulated microscope as a user meets it: default volume, real timing, live view", () => {
  let system: TestSystem;
  let client: GentlyClient;
  let viz: NatsConnection;

  beforeAll(async () => {
    system = await startTestSystem({ sim: {}, services: ["hardware", "writer", "plan-runner", "indexer"] });
    await system.supervisor.waitForLog((l) => l.includes('"service":"plan-runner"') && l.includes('"msg":"started"'), 60_000);
    client = await connect({ url: system.nats.url, user: "copilot", pass: system.credentials.copilot, storage: system.storage, timeoutMs: 20_000 });
    // what the viz account may read: the hardware's live subjects
    viz = await system.connectAs("viz");
  });

  afterAll(async () => {
    await client?.close();
    await viz?.close();
    await system?.stop();
  });

  it("a default acquire holds an embryo: its brightest pixels far above the camera background", async () => {
    const run = await client.submit("acquire_volume", {});
    const result = await run.done();
    expect(result.status, result.reason).toBe("success");
    const volume = await client.loadVolume(result.volumes[0]!.uid);
    expect(volume.shape).toEqual([100, 512, 2048]);
    const planeSize = 512 * 2048;
    // the middle slice cuts the embryo; the background is the dark offset plus a little sheet scatter
    const middle = volume.data.subarray(50 * planeSize, 51 * planeSize);
    const sorted = Float64Array.from(middle).sort();
    const median = sorted[sorted.length >> 1];
    const max = sorted[sorted.length - 1];
    expect(median).toBeLessThan(130);
    expect(max, `max ${max} vs background ${median}`).toBeGreaterThan(2 * median);
  });

  it("a default bottom snap shows the embryos in brightfield: darker than the lit background", async () => {
    const result = await (await client.submit("snap_bottom", {})).done();
    expect(result.status, result.reason).toBe("success");
    const image = await client.loadVolume(result.volumes[0]!.uid);
    const sorted = Float64Array.from(image.data).sort();
    const background = sorted[sorted.length >> 1];
    // embryo 0 covers ~0.07 % of the 2048×2048 field; its middle absorbs a third of the light, the lit background's noise is ~1 %
    const darkest = sorted[Math.floor(sorted.length * 0.0001)];
    expect(background).toBeGreaterThan(5_000);
    expect(darkest, `darkest 0.01 % ${darkest} vs background ${background}`).toBeLessThan(0.8 * background);
  });

  it("a focus sweep and a calibration on the default sample find the sheet (the README's example)", async () => {
    const focus = await (await client.submit("focus_sweep", { galvo_positions_deg: [-0.2, -0.1, 0, 0.1, 0.2], piezo_um: 50 })).done();
    expect(focus.status, focus.reason).toBe("success");
    expect(focus.result).toMatchObject({ found: true });
    expect(Math.abs((focus.result as { best_galvo_deg: number }).best_galvo_deg)).toBeLessThan(0.05);
    const galvos = Array.from({ length: 9 }, (_, i) => Number((-0.4 + i * 0.1).toFixed(1)));
    const calibration = await (await client.submit("calibrate_piezo_galvo", { piezo_positions_um: [40, 50, 60], galvo_positions_deg: galvos })).done();
    expect(calibration.status, calibration.reason).toBe("success");
    const fit = calibration.result as { fitted: boolean; slope_deg_per_um: number; offset_deg: number; r2: number };
    expect(fit.fitted, JSON.stringify(calibration.result)).toBe(true);
    // the sim's truth: galvo = 0.02 °/µm × piezo − 1°
    expect(fit.slope_deg_per_um).toBeGreaterThan(0.015);
    expect(fit.slope_deg_per_um).toBeLessThan(0.025);
    expect(Math.abs(fit.slope_deg_per_um * 50 + fit.offset_deg)).toBeLessThan(0.05);
  });

  it("a 100-slice volume at 10 ms takes its real time (≥ 1 s), with progress per frame at least 4 times a second", async () => {
    const t0 = performance.now();
    const run = await client.submit("acquire_volume", { num_slices: 100, exposure_ms: 10 });
    const progress: { at: number; p: RunProgress }[] = [];
    run.onProgress((p) => progress.push({ at: performance.now(), p }));
    const result = await run.done();
    const seconds = (performance.now() - t0) / 1000;
    expect(result.status, result.reason).toBe("success");
    expect(seconds).toBeGreaterThanOrEqual(1);
    const framing = progress.filter((e) => e.p.phase === "acquiring" && e.p.done > 0 && e.p.done < e.p.total);
    const span = (framing.at(-1)!.at - framing[0]!.at) / 1000;
    expect(framing.length, `${framing.length} frame updates over ${span.toFixed(2)} s`).toBeGreaterThanOrEqual(4);
    expect(framing.length / Math.max(span, 0.25)).toBeGreaterThanOrEqual(4);
    for (let i = 1; i < framing.length; i++) expect(framing[i]!.p.done).toBeGreaterThanOrEqual(framing[i - 1]!.p.done);
  });

  it("live_view streams previews until the run is stopped, then the lasers are off", async () => {
    const previews: PreviewFrame[] = [];
    const states: DeviceState[] = [];
    const subs = [
      viz.subscribe(subjects.device.preview, { callback: (_e, m) => void previews.push(PreviewFrame.parse(decodeJson(m.data))) }),
      viz.subscribe(subjects.device.state, { callback: (_e, m) => void states.push(DeviceState.parse(decodeJson(m.data))) }),
    ];
    const run = await client.submit("live_view", { camera: "HamCam1", exposure_ms: 10, piezo_um: 50, galvo_deg: 0, laser_config: "561 only", duration_s: 60 });
    await waitFor(() => previews.filter((p) => p.run_uid === run.run_uid).length >= 8, 15_000, "8 live previews");
    expect(states.some((s) => s.activity?.kind === "live" && s.laser === "561 only" && s.position.piezo_um === 50)).toBe(true);
    await client.stop(run.run_uid);
    const result = await run.done();
    expect(result.status, result.reason).toBe("success");
    expect(result.result).toMatchObject({ camera: "HamCam1", ended: "stopped by request" });
    expect((result.result as { frames: number }).frames).toBeGreaterThanOrEqual(8);
    const mine = previews.filter((p) => p.run_uid === run.run_uid);
    expect(mine[0]).toMatchObject({ source: "live", width: 512, height: 128, piezo_um: 50 });
    const illumination = await (await client.submit("get_illumination", {})).done();
    expect(illumination.result).toMatchObject({ laser_config: "ALL OFF" });
    for (const s of subs) s.unsubscribe();
  });

  it("live_view ends by itself after duration_s", async () => {
    const t0 = performance.now();
    const result = await (await client.submit("live_view", { exposure_ms: 5, duration_s: 1 })).done();
    expect(result.status, result.reason).toBe("success");
    expect(result.result).toMatchObject({ ended: "ran for its duration" });
    expect((performance.now() - t0) / 1000).toBeGreaterThanOrEqual(1);
  });
});
