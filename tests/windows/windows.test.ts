import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { call, connectBus, createLogger, ensureStream } from "@gently/bus";
import {
  DeviceState,
  hw,
  newUid,
  streams,
  subjects,
  VolumeFailed,
  VolumeWritten,
  type HwState,
  type RequestOf,
} from "@gently/protocol";
import { REPO_ROOT } from "@gently/supervisor";
import { nativeLibraryPath } from "@gently/native";
import { prepareWine, spawnWindowsTs, startTestNats, tempStorage, waitFor, windowsPath, windowsTestsMissing, type ServiceProcess, type TestNats, type Wine } from "@gently/testing";
import { Core } from "../../services/hardware/src/core-binding";
import { SimTruth } from "../../services/hardware/src/sim-truth";
import { simStateOf } from "../../services/hardware/test/sim-state";

/**
 * The instrument PC runs Windows. Here, under Wine: the native C tests as
 * Windows executables, then `npm start`'s supervisor, the hardware and the
 * writer as Windows processes (Windows Node, koffi's win32 build, the
 * simulator DLL as the core) against a Linux nats-server.
 */
const TIFFFILE = spawnSync("/usr/bin/python3", ["-c", "import tifffile"]).status === 0;
const missing = windowsTestsMissing() ?? (TIFFFILE ? undefined : "/usr/bin/python3 cannot import tifffile (./setup.sh --test installs python3-tifffile)");
if (missing) console.warn(`tests/windows skipped: ${missing}`);
// 1 MiB planes: the writer sends each from its ring slot through the unbuffered handle
const ROI = { x: 512, y: 768, width: 1024, height: 512 };
const FRAME_BYTES = ROI.width * ROI.height * 2;
/** 400 slices through the embryo in 0.1 µm steps, the sheet following (0.02 °/µm) */
const LONG_SWEEP = { piezo_start_um: 40, piezo_step_um: 0.1, galvo_start_deg: -0.2, galvo_step_deg: 0.002 };
const logger = createLogger("windows-test", "silent");

/** The pixels of an OME-TIFF as tifffile reads them: [z, y, x] uint16, little-endian bytes. */
function tifffilePixels(file: string): { shape: number[]; bytes: Buffer } {
  const script = "import sys, tifffile; a = tifffile.imread(sys.argv[1]); print(list(a.shape)); sys.stdout.flush(); sys.stdout.buffer.write(a.astype('<u2').tobytes())";
  const done = spawnSync("/usr/bin/python3", ["-c", script, file], { maxBuffer: 1 << 28 });
  if (done.status !== 0) throw new Error(`tifffile could not read ${file}: ${done.stderr}`);
  const newline = done.stdout.indexOf(10);
  return { shape: JSON.parse(done.stdout.subarray(0, newline).toString()) as number[], bytes: done.stdout.subarray(newline + 1) };
}

describe("what the Windows PC's services load", () => {
  // better-sqlite3 and onnxruntime-node are native packages the instrument PC's two services never need
  it.each(["hardware", "writer"])("%s's whole import graph holds neither better-sqlite3 nor onnxruntime-node", async (service) => {
    const { build } = await import("esbuild");
    const result = await build({
      entryPoints: [path.join(REPO_ROOT, "services", service, "src", "main.ts")],
      bundle: true,
      platform: "node",
      format: "esm",
      write: false,
      metafile: true,
      logLevel: "silent",
      // the native packages stay imports, so the graph shows who imports them
      external: ["koffi", "@node-rs/xxhash", "better-sqlite3", "onnxruntime-node"],
    });
    const imported = Object.values(result.metafile.inputs).flatMap((input) => input.imports.map((i) => i.path));
    expect(imported).toContain("koffi");
    expect(imported.filter((p) => /better-sqlite3|onnxruntime/.test(p))).toEqual([]);
    expect(Object.keys(result.metafile.inputs).filter((p) => /better-sqlite3|onnxruntime|libs\/datastore\/src\/datastore\.ts/.test(p))).toEqual([]);
  });
});

describe("the MSVC build of the MMCore shim (for the lab; no MSVC here)", () => {
  it("exports exactly the functions of gently_core.h (gently_mmcore.def)", () => {
    const header = readFileSync(path.join(REPO_ROOT, "native", "include", "gently_core.h"), "utf8");
    const declared = [...header.matchAll(/^[a-z][^(\n]*?\b(gc_[a-z0-9_]+)\(/gm)].map((m) => m[1]);
    const def = readFileSync(path.join(REPO_ROOT, "native", "mmcore", "gently_mmcore.def"), "utf8");
    const exported = def.split("EXPORTS")[1].split(/\s+/).filter(Boolean);
    expect(declared.length).toBeGreaterThan(20);
    expect([...new Set(exported)].sort()).toEqual([...new Set(declared)].sort());
  });
});

describe.skipIf(missing !== undefined)("on the Windows instrument PC (under Wine)", () => {
  let wine: Wine;

  beforeAll(() => {
    wine = prepareWine();
  }, 300_000);

  afterAll(() => wine?.shutdown());

  it("the ring and the simulator pass their C tests as Windows executables (named shared memory, a reader in another process)", () => {
    for (const test of ["test_ring", "test_sim"]) {
      const run = wine.run(path.join(REPO_ROOT, "native", "build", "windows", `${test}.exe`), []);
      expect(run.status, run.output).toBe(0);
      expect(run.output).toContain(`${test}: ok`);
    }
  }, 180_000);

  it("a child that ignores its stop line is ended after the grace, with the process it started (its job object)", () => {
    const run = wine.run(wine.nodeExe, ["--import", "tsx", windowsPath(path.join(REPO_ROOT, "tests", "windows", "stubborn-child.ts"))]);
    expect(run.status, run.output).toBe(0);
    const report = JSON.parse(run.output.trim().split(/\r?\n/).pop()!) as { before: Record<string, boolean>; after: Record<string, boolean>; stopMs: number };
    expect(report.before).toEqual({ child: true, grandchild: true });
    expect(report.after).toEqual({ child: false, grandchild: false });
    expect(report.stopMs).toBeGreaterThanOrEqual(2_000);
  }, 120_000);

  it("the writer's Windows file paths: a drive-letter path moved into place once a scanner lets go of it, never onto an existing file; free space", () => {
    const storage = tempStorage("gently-windows-fs-");
    try {
      const run = wine.run(wine.nodeExe, ["--import", "tsx", windowsPath(path.join(REPO_ROOT, "tests", "windows", "durable-fs-check.ts")), windowsPath(storage.dir)]);
      expect(run.status, run.output).toBe(0);
      const r = JSON.parse(run.output.trim().split(/\r?\n/).pop()!) as Record<string, unknown>;
      expect(r.dir).toMatch(/^Z:\\/);
      expect(r).toMatchObject({ final: "complete", partialGone: true, refused: "EEXIST", quarantineRefused: "EEXIST", otherKept: "other" });
      expect(r.movedAfterMs as number).toBeGreaterThanOrEqual((r.releasedAfterMs as number) - 50);
      expect(r.free as number).toBeGreaterThan(0);
    } finally {
      storage.remove();
    }
  }, 120_000);

  it("full planes go from Windows ring slots to the file through the unbuffered write-through handle, byte-exact", () => {
    const storage = tempStorage("gently-windows-unbuffered-");
    try {
      const run = wine.run(wine.nodeExe, ["--import", "tsx", windowsPath(path.join(REPO_ROOT, "tests", "windows", "unbuffered-check.ts")), windowsPath(storage.dir)]);
      expect(run.status, run.output).toBe(0);
      const r = JSON.parse(run.output.trim().split(/\r?\n/).pop()!) as { planeBytes: number; planes: number; unbufferedBytes: number };
      // every plane (and any other whole-sector write at a sector offset) went unbuffered
      expect(r.unbufferedBytes).toBeGreaterThanOrEqual(r.planeBytes * r.planes);
      const { shape, bytes } = tifffilePixels(path.join(storage.dir, "planes.tif"));
      expect(shape).toEqual([r.planes, 512, 1024]);
      expect(bytes.equals(readFileSync(path.join(storage.dir, "planes.raw")))).toBe(true);
    } finally {
      storage.remove();
    }
  }, 120_000);

  it("npm's postinstall passes on Windows (no make there), naming where the DLLs go", () => {
    const run = wine.run(wine.nodeExe, [windowsPath(path.join(REPO_ROOT, "native", "postinstall.mjs"))]);
    expect(run.status, run.output).toBe(0);
    expect(run.output).toContain("native\\build\\windows");
  }, 60_000);

  it("npm start without nats-server.exe on PATH nor GENTLY_NATS_URL stops, saying where to put it", () => {
    const storage = tempStorage("gently-windows-nonats-");
    try {
      const run = wine.run(wine.nodeExe, ["--import", "tsx", windowsPath(path.join(REPO_ROOT, "libs", "supervisor", "src", "main.ts"))], {
        env: { GENTLY_NATS_URL: "", GENTLY_STORAGE: windowsPath(storage.dir), GENTLY_LOG_FORMAT: "json", WINEPATH: "" },
      });
      expect(run.status).toBe(1);
      expect(run.output).toMatch(/cannot run nats-server: .*nats-server\.exe.*on PATH.*GENTLY_NATS_URL/);
    } finally {
      storage.remove();
    }
  }, 120_000);

  describe("hardware and writer as Windows processes under the Windows supervisor", () => {
    let nats: TestNats;
    let nc: NatsConnection;
    let supervisor: ServiceProcess;
    let truthCore: Core;
    let truth: SimTruth;
    let events: Subscription;
    const written = new Map<string, VolumeWritten>();
    const failed = new Map<string, VolumeFailed>();
    const deviceStates: DeviceState[] = [];
    let storage: { dir: string; remove(): void };
    /** the sim's noise counter: each started sequence takes all its frames (gently_sim.h) */
    let noiseNext = 0;

    const state = (): Promise<HwState> => call(nc, hw.state, {});
    const startedCount = (service: string) =>
      supervisor.lines.filter((l) => l.includes('"msg":"started"') && l.includes(`"service":"${service}"`)).length;

    beforeAll(async () => {
      storage = tempStorage("gently-windows-");
      nats = await startTestNats();
      nc = await connectBus({ servers: nats.url, name: "windows-test", logger });
      // what the indexer does on a full system: GENTLY_DATA takes the writer's announcements
      await ensureStream(await jetstreamManager(nc), streams.data);
      events = nc.subscribe(subjects.volume.all, {
        callback: (_err, msg) => {
          if (msg.subject === subjects.volume.written) {
            const body = VolumeWritten.parse(msg.json());
            written.set(body.uid, body);
          } else if (msg.subject === subjects.volume.failed) {
            const body = VolumeFailed.parse(msg.json());
            failed.set(body.uid, body);
          }
        },
      });
      nc.subscribe(subjects.device.state, { callback: (_err, msg) => void deviceStates.push(DeviceState.parse(msg.json())) });
      supervisor = spawnWindowsTs(wine, path.join(REPO_ROOT, "libs", "supervisor", "src", "main.ts"), {
        // hardware and writer on this PC, NATS elsewhere (here: Linux)
        GENTLY_NATS_URL: nats.url,
        GENTLY_STORAGE: windowsPath(storage.dir),
        GENTLY_SERVICES: "hardware,writer",
        GENTLY_RING_SLOTS: "8",
        GENTLY_RING_TIMEOUT_MS: "3000",
        GENTLY_WRITER_RESERVE_BYTES: "0",
      }, path.join(storage.dir, "supervisor.log"));
      await waitFor(() => startedCount("hardware") >= 1 && startedCount("writer") >= 1, 240_000, "hardware and writer to start under Wine");
      truthCore = Core.open(nativeLibraryPath("gently_sim"));
      truth = new SimTruth(truthCore);
      for (const camera of ["HamCam1", "HamCam2"] as const) await call(nc, hw.setCamera, { camera, roi: ROI });
      // the sim's embryo 0 in the ROI, so frames show it, not just background
      await call(nc, hw.move, { axis: "xy", x_um: 1509.5, y_um: 8.5 });
    }, 300_000);

    afterAll(async () => {
      await supervisor?.kill();
      await events?.unsubscribe();
      truthCore?.close();
      await nc?.close();
      await nats?.stop();
      storage?.remove();
    });

    function sequence(overrides: Partial<RequestOf<typeof hw.startSequence>> = {}): RequestOf<typeof hw.startSequence> {
      return {
        acq_id: newUid(),
        volume_uid: newUid(),
        session_id: "windows-test",
        cameras: ["HamCam1"],
        num_slices: 6,
        exposure_ms: 10,
        laser_config: "488 only",
        sweep: { piezo_start_um: 49.5, piezo_step_um: 1, galvo_start_deg: -0.01, galvo_step_deg: 0.02 },
        keepalive_ms: 5_000,
        ...overrides,
      };
    }

    async function start(req: RequestOf<typeof hw.startSequence>) {
      const started = await call(nc, hw.startSequence, req);
      noiseNext += started.frames_total;
      return started;
    }

    /** Acquires a volume and checks its file, read by tifffile, against the simulator's frames byte for byte. */
    async function acquireAndCheck(): Promise<VolumeWritten> {
      const before = await state();
      const req = sequence();
      const noiseBase = noiseNext;
      await start(req);
      const body = await waitFor(() => written.get(req.volume_uid), 60_000, `volume.written for ${req.volume_uid}`);
      const file = path.join(storage.dir, body.storage_path!);
      expect(existsSync(file)).toBe(true);
      const { shape, bytes } = tifffilePixels(file);
      expect(shape).toEqual([6, ROI.height, ROI.width]);
      const expected = Buffer.alloc(FRAME_BYTES);
      for (let z = 0; z < 6; z++) {
        const piezo = 49.5 + z;
        const galvo = -0.01 + 0.02 * z;
        truth.render("HamCam1", simStateOf(before, "HamCam1", { exposure_ms: 10, laser: "488 only", piezo_um: piezo, galvo_deg: galvo }), noiseBase + z, expected);
        expect(bytes.subarray(z * FRAME_BYTES, (z + 1) * FRAME_BYTES).equals(expected), `slice ${z}`).toBe(true);
      }
      return body;
    }

    it("a volume goes from the simulator DLL through Windows named shared memory into an OME-TIFF that tifffile reads byte-exact", async () => {
      const s = await state();
      expect(s.ring.path).toBe(`Local\\gently-ring-${nats.port}`);
      expect(s.core).toMatch(/^Z:\\.*\\native\\build\\windows\\gently_sim\.dll$/);
      const body = await acquireAndCheck();
      // the absolute path is the Windows one; the storage-relative one finds the file from Linux
      expect(body.path).toBe(`${windowsPath(storage.dir)}\\volumes\\${body.uid}.tif`);
      expect(body.storage_path).toBe(`volumes/${body.uid}.tif`);
      expect(readdirSync(path.join(storage.dir, "volumes")).filter((n) => n.endsWith(".partial"))).toEqual([]);
      expect((await state()).laser).toBe("ALL OFF");
    }, 120_000);

    it("`gently status --service hardware` runs as a Windows process and finds the hardware", () => {
      const status = wine.run(wine.nodeExe, [windowsPath(path.join(REPO_ROOT, "libs", "cli", "bin", "gently.js")), "status", "--service", "hardware"], {
        env: { GENTLY_NATS_URL: nats.url },
      });
      expect(status.status, status.output).toBe(0);
      expect(status.output).toContain("hardware");
    }, 120_000);

    it("the writer terminated mid-volume: its partial quarantined, volume.failed, lasers off, the next volume fine", async () => {
      const writerPid = (): number => {
        const lines = supervisor.lines.filter((l) => l.includes('"child started"') && l.includes('"child":"writer"'));
        return (JSON.parse(lines[lines.length - 1]) as { pid: number }).pid;
      };
      const req = sequence({ num_slices: 400, exposure_ms: 20, sweep: LONG_SWEEP });
      const frames: number[] = [];
      const sub = nc.subscribe(subjects.frames.frame(req.acq_id), { callback: () => void frames.push(Date.now()) });
      const keepalive = setInterval(() => void call(nc, hw.keepalive, { acq_id: req.acq_id }).catch(() => undefined), 1_000);
      try {
        await start(req);
        await waitFor(() => frames.length >= 5, 30_000, "the first frames");
        const writersBefore = startedCount("writer");
        // TerminateProcess: no goodbye, the partial file stays behind
        const kill = wine.run("taskkill", ["/F", "/PID", String(writerPid())]);
        expect(kill.status, kill.output).toBe(0);
        const failure = await waitFor(() => failed.get(req.volume_uid), 120_000, `volume.failed for ${req.volume_uid}`);
        expect(written.has(req.volume_uid)).toBe(false);
        // the restarted writer found the partial file and quarantined it
        await waitFor(() => startedCount("writer") > writersBefore, 120_000, "the writer to be restarted");
        const quarantined = await waitFor(() => failed.get(req.volume_uid)?.quarantined_path, 60_000, "the quarantined partial").catch(() => failure.quarantined_path);
        const quarantineDir = path.join(storage.dir, "volumes", "quarantine");
        expect(readdirSync(quarantineDir)).toContain(`${req.volume_uid}.tif.partial`);
        if (quarantined) expect(quarantined).toBe(`${windowsPath(quarantineDir)}\\${req.volume_uid}.tif.partial`);
        expect(existsSync(path.join(storage.dir, "volumes", `${req.volume_uid}.tif`))).toBe(false);
        await waitFor(async () => (await state()).acquisition === null, 30_000, "the acquisition to end");
        expect((await state()).laser).toBe("ALL OFF");
      } finally {
        clearInterval(keepalive);
        sub.unsubscribe();
      }
      await acquireAndCheck();
    }, 300_000);

    it("Ctrl-C stops every service (the hardware's sequence stopped, lasers off) before the supervisor exits", async () => {
      const req = sequence({ num_slices: 400, exposure_ms: 20, sweep: LONG_SWEEP });
      const frames: number[] = [];
      const sub = nc.subscribe(subjects.frames.frame(req.acq_id), { callback: () => void frames.push(Date.now()) });
      const keepalive = setInterval(() => void call(nc, hw.keepalive, { acq_id: req.acq_id }).catch(() => undefined), 1_000);
      const statesBefore = deviceStates.length;
      try {
        await start(req);
        await waitFor(() => frames.length >= 5, 30_000, "the sequence's first frames");
        expect(deviceStates.slice(statesBefore).some((d) => d.laser === "488 only")).toBe(true);
        // SIGINT to the Windows process: Wine delivers it as the console's Ctrl-C
        expect(await supervisor.stop()).toBe(0);
      } finally {
        clearInterval(keepalive);
        sub.unsubscribe();
      }
      // each service was stopped through its stdin (the supervisor's "stop"), not by the console's Ctrl-C
      const stopping = supervisor.lines.filter((l) => l.includes('"msg":"stopping"'));
      const services = stopping.filter((l) => l.includes('"service":"hardware"') || l.includes('"service":"writer"'));
      expect(services).toHaveLength(2);
      for (const line of services) expect(line).toContain('"signal":"SIGTERM"');
      const index = (match: (l: string) => boolean) => supervisor.lines.findIndex(match);
      const hardwareStopped = index((l) => l.includes('"service":"hardware"') && l.includes('"msg":"stopped"'));
      const writerStopped = index((l) => l.includes('"service":"writer"') && l.includes('"msg":"stopped"'));
      const systemStopped = index((l) => l.includes('"msg":"system stopped"'));
      expect(hardwareStopped).toBeGreaterThan(-1);
      expect(writerStopped).toBeGreaterThan(-1);
      expect(systemStopped).toBeGreaterThan(Math.max(hardwareStopped, writerStopped));
      expect(deviceStates[deviceStates.length - 1].laser).toBe("ALL OFF");
      expect(readFileSync(path.join(storage.dir, "supervisor.log"), "utf8")).not.toMatch(/child did not stop in time/);
    }, 180_000);
  });
});
