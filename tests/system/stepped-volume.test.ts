import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type GentlyClient } from "@gently/client";
import { readOmeMetadata } from "@gently/ome-tiff";
import { call } from "@gently/bus";
import { datastore, type RunDocument } from "@gently/protocol";
import { SMALL_SAMPLE, startTestSystem, waitFor, type TestSystem } from "@gently/testing";

/**
 * A microscope whose core cannot sequence piezo and galvo (the simulator
 * without hardware sweeps, as MMCore on anything but an ASI Tiger): a volume
 * is stepped slice by slice, and the file and the run's documents say so,
 * each OME plane's Z at the piezo position of its slice.
 */
describe("a volume on a core without hardware sequencing (whole system)", () => {
  let system: TestSystem;
  let client: GentlyClient;

  beforeAll(async () => {
    system = await startTestSystem({ sim: { ...SMALL_SAMPLE, hardware_sweep: false }, services: ["hardware", "writer", "plan-runner", "indexer"] });
    client = await connect({ url: system.nats.url, user: "copilot", pass: system.credentials.copilot, storage: system.storage, timeoutMs: 20_000 });
  }, 120_000);

  afterAll(async () => {
    await client?.close();
    await system?.stop();
  });

  it("steps the sweep; the file's planes sit at the piezo of each slice and it, volume.written and the run's documents name the stepped path", async () => {
    const params = { num_slices: 5, exposure_ms: 5, piezo_center_um: 2, piezo_amplitude_um: 4, galvo_center_deg: 0.02, galvo_amplitude_deg: 0.04 };
    const run = await client.submit("acquire_volume", params);
    const result = await run.done();
    expect(result.status, result.reason).toBe("success");
    const [volume] = result.volumes;
    const meta = await readOmeMetadata(volume!.path);
    // slices from centre - amplitude to centre + amplitude: -2, 0, 2, 4, 6 µm
    expect(meta.planes.map((p) => p.position_z_um)).toEqual([-2, 0, 2, 4, 6]);
    expect(meta.meta?.sheet_sweep).toEqual({ piezo_start_um: -2, piezo_step_um: 2, galvo_start_deg: -0.02, galvo_step_deg: 0.02, mode: "stepped" });
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
