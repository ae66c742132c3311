import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type GentlyClient } from "@gently/client";
import { readOmeMetadata } from "@gently/ome-tiff";
import { call } from "@gently/bus";
import { datastore, type RunDocument } from "@gently/protocol";
import { SMALL_SAMPLE, startTestSystem, waitFor, type TestSystem } from "@gently/testing";

/**
 * A microscope whose core cannot sequence piezo and galvo (the simulator
 * without hardware sweeps, as MMCore on anything but an ASI Tiger): a volume
 * is stepped slice by slice, and the file and the run's documents say so.
 * Its piezo and galvo settle a little off their targets (the sim's
 * settle_error), so a file that recorded the commanded positions instead of
 * the ones read back for each slice would fail here.
 */
describe("a volume on a core without hardware sequencing (whole system)", () => {
  let system: TestSystem;
  let client: GentlyClient;

  beforeAll(async () => {
    system = await startTestSystem({
      sim: { ...SMALL_SAMPLE, hardware_sweep: false, settle_error: { piezo_um: 0.3, galvo_deg: 0.002 } },
      services: ["hardware", "writer", "plan-runner", "indexer"],
    });
    client = await connect({ url: system.nats.url, user: "copilot", pass: system.credentials.copilot, storage: system.storage, timeoutMs: 20_000 });
  }, 120_000);

  afterAll(async () => {
    await client?.close();
    await system?.stop();
  });

  it("steps the sweep; each of the file's planes (both cameras) records the piezo and galvo measured for its slice, and it, volume.written and the run's documents name the stepped path", async () => {
    const params = {
      num_slices: 5,
      exposure_ms: 5,
      piezo_center_um: 2,
      piezo_amplitude_um: 4,
      galvo_center_deg: 0.02,
      galvo_amplitude_deg: 0.04,
      cameras: ["HamCam1", "HamCam2"],
      laser_config: "488 only",
    };
    const run = await client.submit("acquire_volume", params);
    const result = await run.done();
    expect(result.status, result.reason).toBe("success");
    const [volume] = result.volumes;
    const meta = await readOmeMetadata(volume!.path);
    // slices from centre - amplitude to centre + amplitude: -2, 0, 2, 4, 6 µm commanded; the piezo settles 0.3 µm past each
    const measuredZ = [-1.7, 0.3, 2.3, 4.3, 6.3];
    expect(meta.planes.map((p) => [p.theZ, p.theC, p.position_z_um])).toEqual(measuredZ.flatMap((z, i) => [[i, 0, z], [i, 1, z]]));
    // galvo -0.02 … 0.06° commanded, +0.002° where it settled
    const measuredGalvo = [-0.018, 0.002, 0.022, 0.042, 0.062];
    expect(meta.planeGalvoDeg).toEqual(measuredGalvo.flatMap((g) => [g, g]));
    expect(meta.meta?.plane_positions).toBe("measured");
    expect(meta.meta?.sheet_sweep).toEqual({ piezo_start_um: -2, piezo_step_um: 2, galvo_start_deg: -0.02, galvo_step_deg: 0.02, mode: "stepped" });
    // Stage X/Y on every plane, time since the first frame increasing slice by slice, the laser line as the channels' excitation.
    expect(new Set(meta.planes.map((p) => `${p.position_x_um},${p.position_y_um}`)).size).toBe(1);
    const slicesT = meta.planes.filter((p) => p.theC === 0).map((p) => p.delta_t_ms!);
    expect(slicesT[0]).toBe(0);
    for (let i = 1; i < slicesT.length; i++) expect(slicesT[i]).toBeGreaterThan(slicesT[i - 1]);
    expect(meta.xml.match(/ExcitationWavelength="488"/g)).toHaveLength(2);
    expect(meta.xml).toContain(`<Laser ID="LightSource:0:488" Wavelength="488" WavelengthUnit="nm"/>`);
    expect(meta.xml.match(/<LightSourceSettings ID="LightSource:0:488" Attenuation="[0-9.]+"\/>/g)).toHaveLength(2);
    const documents: RunDocument[] = [];
    for await (const d of run.documents()) {
      documents.push(d);
      if (d.kind === "stop") break;
    }
    const resource = documents.find((d) => d.kind === "stream_resource");
    expect(resource?.kind === "stream_resource" && resource.doc.parameters.sweep_mode).toBe("stepped");
    const nc = await system.connectAs("copilot");
    try {
      const row = await waitFor(() => call(nc, datastore.get, { uid: volume!.uid }).catch(() => null), 20_000, "the volume's index row");
      expect(row.metadata).toMatchObject({ sweep_mode: "stepped" });
    } finally {
      await nc.close();
    }
  }, 60_000);
});

/**
 * The same volume where the controller runs the sweep (the simulator with
 * hardware sequencing, as an ASI Tiger): nothing measures each slice, so the
 * file records the sweep's positions and says they are planned.
 */
describe("a volume on a core with hardware sequencing (whole system)", () => {
  let system: TestSystem;
  let client: GentlyClient;

  beforeAll(async () => {
    system = await startTestSystem({ sim: SMALL_SAMPLE, services: ["hardware", "writer", "plan-runner"] });
    client = await connect({ url: system.nats.url, user: "copilot", pass: system.credentials.copilot, storage: system.storage, timeoutMs: 20_000 });
  }, 120_000);

  afterAll(async () => {
    await client?.close();
    await system?.stop();
  });

  it("records each plane at the sweep's planned piezo and galvo, and says they are planned", async () => {
    const params = { num_slices: 5, exposure_ms: 5, piezo_center_um: 2, piezo_amplitude_um: 4, galvo_center_deg: 0.02, galvo_amplitude_deg: 0.04 };
    const result = await (await client.submit("acquire_volume", params)).done();
    expect(result.status, result.reason).toBe("success");
    const meta = await readOmeMetadata(result.volumes[0]!.path);
    expect(meta.meta?.sheet_sweep?.mode).toBe("hardware");
    expect(meta.meta?.plane_positions).toBe("planned");
    expect(meta.planes.map((p) => p.position_z_um)).toEqual([-2, 0, 2, 4, 6]);
    expect(meta.planeGalvoDeg).toEqual([-0.02, 0, 0.02, 0.04, 0.06]);
  }, 60_000);
});
