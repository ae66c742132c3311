import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publishDurable } from "@gently/bus";
import { writeSampleVolume } from "@gently/datastore";
import { newUid, RunProgress, subjects, VolumeFailed, type Uid } from "@gently/protocol";
import { waitFor } from "@gently/testing";
import { startVizHarness, type VizHarness } from "../test/harness";
import { announceVolume } from "./announce-volume";
import { openSse } from "./sse-client";

describe("GET /api/events (SSE from JetStream)", () => {
  let h: VizHarness;
  beforeAll(async () => {
    h = await startVizHarness({ indexer: false });
  });
  afterAll(async () => {
    await h?.stop();
  });

  const volume = () => writeSampleVolume(h.storage, { size_x: 16, size_y: 8, size_z: 1, plane: () => new Uint16Array(16 * 8) });
  const progress = (run: Uid, done: number) =>
    publishDurable(h.js, subjects.run.progress(run), RunProgress, { run_uid: run, done, total: 10, phase: "acquiring" }, newUid());

  it("forwards volume, failure and run progress events live, each with the stream position as its id", async () => {
    const sse = openSse(h.base);
    await sse.opened;
    await waitFor(() => sse.messages.some((m) => m.event === "ready"), 10_000, "ready event");
    const run = newUid();
    const v = await volume();
    await announceVolume(h.js, v);
    await progress(run, 3);
    const failedUid = newUid();
    await publishDurable(h.js, subjects.volume.failed, VolumeFailed, { uid: failedUid, reason: "disk full", code: "disk_full", failed: new Date().toISOString() }, failedUid);
    await waitFor(() => sse.messages.length >= 4, 10_000, "three events after ready");
    sse.close();
    expect(sse.status).toBe(200);
    expect(sse.messages[0].event).toBe("ready");
    // Order is guaranteed within a stream; the two streams interleave as their messages arrive.
    const data = sse.messages.filter((m) => m.event.startsWith("volume."));
    expect(data.map((m) => [m.event, m.data.body?.uid])).toEqual([["volume.written", v.uid], ["volume.failed", failedUid]]);
    expect(sse.messages.find((m) => m.event === "run.progress")?.data).toMatchObject({ run_uid: run, body: { done: 3 } });
    // ids are "<GENTLY_DATA seq>-<GENTLY_RUNS seq>" and never go backwards
    const ids = sse.messages.map((m) => m.id!.split("-").map(Number));
    for (let i = 1; i < ids.length; i++) {
      expect(ids[i][0]).toBeGreaterThanOrEqual(ids[i - 1][0]);
      expect(ids[i][1]).toBeGreaterThanOrEqual(ids[i - 1][1]);
    }
    for (const m of sse.messages.slice(1)) {
      const [dataSeq, runsSeq] = m.id!.split("-").map(Number);
      expect(m.event.startsWith("run.") ? runsSeq : dataSeq).toBe(m.data.seq);
    }
  });

  it("forwards a volume written on a host that sees the storage elsewhere (a Windows writer's D:\\ path) by its storage_path", async () => {
    const sse = openSse(h.base);
    await sse.opened;
    await waitFor(() => sse.messages.some((m) => m.event === "ready"), 10_000, "ready event");
    const v = await volume();
    await announceVolume(h.js, { ...v, path: `D:\\gently\\storage\\volumes\\${v.uid}.tif`, storage_path: `volumes/${v.uid}.tif` });
    await waitFor(() => sse.messages.some((m) => m.event === "volume.written" && m.data.body?.uid === v.uid), 10_000, "the volume's event");
    sse.close();
  });

  it("resumes after a reconnect with Last-Event-ID: every event published meanwhile arrives once, in stream order", async () => {
    const run = newUid();
    const first = openSse(h.base);
    await first.opened;
    await waitFor(() => first.messages.some((m) => m.event === "ready"), 10_000, "ready event");
    const before = [await volume(), await volume()];
    for (const v of before) await announceVolume(h.js, v);
    await progress(run, 1);
    await waitFor(() => first.messages.length >= 4, 10_000, "events before the drop");
    const resumeFrom = first.lastId!;
    first.close();

    // While the browser is away: volumes, progress, and a repeat announcement the stream deduplicates.
    const during = [await volume(), await volume(), await volume()];
    await announceVolume(h.js, during[0]);
    await progress(run, 2);
    await announceVolume(h.js, during[1]);
    await announceVolume(h.js, during[0]);
    await announceVolume(h.js, during[2]);
    await progress(run, 3);

    const second = openSse(h.base, resumeFrom);
    await second.opened;
    await waitFor(() => second.messages.length >= 6, 10_000, "replayed events");
    const after = await volume();
    await announceVolume(h.js, after);
    await waitFor(() => second.messages.length >= 7, 10_000, "live event after the replay");
    await new Promise((r) => setTimeout(r, 300)); // nothing else may trickle in
    second.close();

    expect(second.messages[0]).toMatchObject({ event: "ready", id: resumeFrom });
    const replayed = second.messages.slice(1);
    expect(replayed.filter((m) => m.event === "volume.written").map((m) => m.data.body?.uid)).toEqual([...during, after].map((v) => v.uid));
    expect(replayed.filter((m) => m.event === "run.progress").map((m) => m.data.body?.done)).toEqual([2, 3]);
    expect(replayed).toHaveLength(6);
    const everything = [...first.messages, ...second.messages].filter((m) => m.event !== "ready").map((m) => `${m.data.subject}#${m.data.seq}`);
    expect(new Set(everything).size).toBe(everything.length);
  });

  it("refuses a Last-Event-ID it never sent", async () => {
    const res = await fetch(`${h.base}/api/events`, { headers: { "Last-Event-ID": "../../etc" } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { field: string } }).error.field).toBe("Last-Event-ID");
  });

  it("stops cleanly on SIGTERM while a browser is still following events", async () => {
    const sse = openSse(h.base);
    await sse.opened;
    await waitFor(() => sse.messages.some((m) => m.event === "ready"), 10_000, "ready event");
    expect(await h.viz.stop()).toBe(0);
    sse.close();
  });
});
