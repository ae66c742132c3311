import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NatsConnection } from "@nats-io/transport-node";
import { connectBus, createLogger, ensureStream, jetStreamOf, publishDurable } from "@gently/bus";
import { GentlyError, newUid, streams, subjects, VolumeFailed, VolumeWritten } from "@gently/protocol";
import { startTestNats, type TestNats } from "@gently/testing";
import { VolumeAnnouncements } from "./volume-events";

const logger = createLogger("volume-events-test", "silent");

function written(uid: string): VolumeWritten {
  return VolumeWritten.parse({
    uid,
    data_type: "volume",
    path: `/storage/volumes/${uid}.tif`,
    shape: [3, 8, 8],
    dtype: "uint16",
    session_id: "events",
    bytes: 384,
    checksum: { algorithm: "xxh3-64", hex: "00" },
    created: new Date().toISOString(),
    metadata: { dimension_order: "XYZCT", cameras: ["HamCam1"], pixel_size_um: 0.1625, z_step_um: 1, exposure_ms: 5, position: { x_um: 0, y_um: 0 }, dropped_frames: 0 },
  });
}

describe("volume announcements", () => {
  let nats: TestNats;
  let nc: NatsConnection;
  let volumes: VolumeAnnouncements;

  beforeAll(async () => {
    nats = await startTestNats();
    nc = await connectBus({ servers: nats.url, name: "volume-events-test", logger });
    await ensureStream((await jetStreamOf(nc)).jsm, streams.data);
    volumes = new VolumeAnnouncements(nc, logger);
  });

  afterAll(async () => {
    volumes?.close();
    await nc?.close();
    await nats?.stop();
  });

  it("hands each waiter its own volume as it is announced", async () => {
    const [a, b] = [newUid(), newUid()];
    const wa = volumes.expect(a);
    const wb = volumes.expect(b);
    const { js } = await jetStreamOf(nc);
    await publishDurable(js, subjects.volume.written, VolumeWritten, written(b), b);
    await publishDurable(js, subjects.volume.failed, VolumeFailed, { uid: a, reason: "disk full", code: "disk_full", failed: new Date().toISOString() }, `${a}-failed`);
    expect((await wb.written).uid).toBe(b);
    const err = await wa.written.catch((e) => e);
    expect(err).toBeInstanceOf(GentlyError);
    expect(err.code).toBe("disk_full");
  });

  it("reads back from the stream an announcement it did not see live (as after a reconnect)", async () => {
    const uid = newUid();
    const { js } = await jetStreamOf(nc);
    // stored while nobody waited for it: the live subscription had nothing to match
    await publishDurable(js, subjects.volume.written, VolumeWritten, written(uid), uid);
    const waiting = volumes.expect(uid);
    let settled = false;
    void waiting.written.then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 200));
    expect(settled).toBe(false);
    await volumes.catchUp();
    expect((await waiting.written).uid).toBe(uid);
  });
});
