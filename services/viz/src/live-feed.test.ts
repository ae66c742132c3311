import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeviceState, PreviewFrame, subjects } from "@gently/protocol";
import { connect } from "@gently/client";
import { waitFor } from "@gently/testing";
import { openSse } from "./sse-client";
import { startVizHarness, type VizHarness } from "../test/harness";

describe("live events on /api/events (device state and previews from the real hardware)", () => {
  let h: VizHarness;
  beforeAll(async () => {
    h = await startVizHarness({ indexer: false, microscope: true });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it("forwards the hardware's device state while idle, without ids (never replayed), and refuses bodies that fail the schema", async () => {
    const sse = openSse(h.base);
    await sse.opened;
    await waitFor(() => sse.messages.filter((m) => m.event === "device.state").length >= 2, 10_000, "device state");
    const state = sse.messages.find((m) => m.event === "device.state")!;
    expect(state.id).toBeUndefined();
    expect(DeviceState.parse(state.data)).toMatchObject({ laser: "ALL OFF", position: { x_um: 1500, y_um: 0 } });
    // a body that is not a DeviceState never reaches the page
    h.nc.publish(subjects.device.state, JSON.stringify({ position: "nowhere", marker: "bad" }));
    await h.nc.flush();
    const count = sse.messages.length;
    await waitFor(() => sse.messages.length > count + 1, 5_000, "later events");
    expect(sse.messages.some((m) => m.data.marker === "bad")).toBe(false);
    sse.close();
  });

  it("shows previews of a volume while it is acquired, and the run's progress per frame", async () => {
    const sse = openSse(h.base);
    await sse.opened;
    await waitFor(() => sse.messages.some((m) => m.event === "ready"), 10_000, "ready");
    const client = await connect({ url: h.nats.url, storage: h.storage, reconnect: false });
    try {
      // 300 slices of the 256×128 test ROI at 10 ms: ~3 s
      const run = await client.submit("acquire_volume", { num_slices: 300, exposure_ms: 10 });
      await waitFor(() => sse.messages.some((m) => m.event === "device.preview" && m.data.run_uid === run.run_uid), 10_000, "a preview mid-volume");
      const volumeWrittenBefore = sse.messages.some((m) => m.event === "volume.written");
      expect(volumeWrittenBefore, "the first preview comes before the volume is written").toBe(false);
      const result = await run.done();
      expect(result.status).toBe("success");
      const previews = sse.messages.filter((m) => m.event === "device.preview" && m.data.run_uid === run.run_uid).map((m) => PreviewFrame.parse(m.data));
      expect(previews.length).toBeGreaterThanOrEqual(10);
      expect(previews[0]).toMatchObject({ camera: "HamCam1", source: "sequence", width: 256, height: 128, bin: 1 });
      const progress = sse.messages.filter((m) => m.event === "run.progress" && (m.data as { run_uid?: string }).run_uid === run.run_uid);
      expect(progress.length, "progress at least 4 times a second over ~3 s").toBeGreaterThanOrEqual(10);
    } finally {
      await client.close();
      sse.close();
    }
  });
});
