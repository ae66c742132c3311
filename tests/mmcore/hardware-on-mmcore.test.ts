import { existsSync } from "node:fs";
import path from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, connectBus, createLogger } from "@gently/bus";
import { hw, newUid } from "@gently/protocol";
import { nativeDirectory } from "@gently/ring";
import { REPO_ROOT } from "@gently/supervisor";
import { spawnService, startTestNats, tempStorage, type ServiceProcess, type TestNats } from "@gently/testing";
import { TestReader } from "../../services/hardware/src/test-reader";

// Runs where Micro-Manager is: `make -C native mmcore MMCORE_DIR=...` built the shim and
// GENTLY_MM_ADAPTER_PATH finds DemoCamera (see native/mmcore/README.md). Skipped elsewhere.
const SHIM = path.join(nativeDirectory(), "libgently_mmcore.so");
const ADAPTERS = process.env.GENTLY_MM_ADAPTER_PATH;
const CONFIG = path.join(REPO_ROOT, "native/mmcore/gently-demo.cfg");

describe.skipIf(!ADAPTERS || !existsSync(SHIM))("hardware service on the MMCore shim (DemoCamera, real process, real NATS)", () => {
  let nats: TestNats;
  let nc: NatsConnection;
  let hardware: ServiceProcess;
  let reader: TestReader;
  const storage = tempStorage("gently-mmcore-");

  beforeAll(async () => {
    nats = await startTestNats();
    hardware = spawnService("hardware", {
      GENTLY_NATS_URL: nats.url,
      GENTLY_STORAGE: storage.dir,
      GENTLY_RING_PATH: `/dev/shm/gently-test-ring-${newUid()}`,
      GENTLY_RING_SLOTS: "4",
      GENTLY_CORE_LIBRARY: SHIM,
      GENTLY_CONFIG: CONFIG,
      GENTLY_MM_ADAPTER_PATH: ADAPTERS,
    });
    await hardware.waitForLog((l) => l.includes('"msg":"started"'), 45_000);
    nc = await connectBus({ servers: nats.url, name: "mmcore-test", logger: createLogger("mmcore-test", "silent") });
    reader = new TestReader(nc);
    await reader.start();
  });

  afterAll(async () => {
    await reader?.stop();
    await hardware?.stop();
    await nc?.close();
    await nats?.stop();
    storage.remove();
  });

  it("reports sensor-pixel ROIs and binned pixel sizes, and streams binned frames of the ROI into the ring with the lasers off after", async () => {
    const state = await call(nc, hw.state, {});
    expect(state.cameras.HamCam1).toMatchObject({ pixel_size_um: 0.325, roi: { width: 512, height: 512 } });
    expect(state.cameras.HamCam2).toMatchObject({ pixel_size_um: 0.1625 });

    await call(nc, hw.setCamera, { camera: "HamCam1", roi: { x: 64, y: 32, width: 256, height: 128 } });
    expect((await call(nc, hw.state, {})).cameras.HamCam1?.roi).toEqual({ x: 64, y: 32, width: 256, height: 128 });
    const req = { acq_id: newUid(), volume_uid: newUid(), session_id: "mmcore", cameras: ["HamCam1" as const], num_slices: 5, exposure_ms: 5, laser_config: "488 only" as const };
    expect(await call(nc, hw.startSequence, req)).toMatchObject({ frames_total: 5 });
    expect(await reader.waitEnd(req.acq_id, 20_000)).toMatchObject({ status: "complete", frames: 5, dropped: 0 });
    const frames = reader.frames.get(req.acq_id)!;
    expect(frames.map((f) => f.descriptor.seq)).toEqual([0, 1, 2, 3, 4]);
    for (const f of frames) {
      expect(f.descriptor).toMatchObject({ width: 128, height: 64 });
      expect(f.data.length).toBe(f.descriptor.bytes);
    }
    expect((await call(nc, hw.state, {})).laser).toBe("ALL OFF");
  });
});
