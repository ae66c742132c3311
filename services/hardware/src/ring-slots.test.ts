import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "@gently/bus";
import { GentlyError, newUid } from "@gently/protocol";
import { createRing, unlinkRing, type Ring } from "@gently/ring";
import { RingSlots } from "./ring-slots";

const logger = createLogger("ring-slots-test", "silent");

describe("ring slots: frames nobody will release", () => {
  let ring: Ring | undefined;
  let ringPath = "";
  afterEach(() => {
    ring?.close();
    unlinkRing(ringPath);
  });

  /** A 2-slot ring whose slots both hold frames of acquisition "acq-a" (volume "vol-a"), taken by writer "w1". */
  function fullRing(alive: Set<string>): RingSlots {
    ringPath = `/dev/shm/gently-test-slots-${newUid()}`;
    ring = createRing(ringPath, { slotBytes: 4096, numSlots: 2 });
    const slots = new RingSlots(ring, { timeoutMs: 600, writerAnswers: async (id) => alive.has(id), logger });
    for (let i = 0; i < 2; i++) slots.commit(ring.tryAcquire()!, 4096, { acqId: "acq-a", volumeUid: "vol-a", writerId: "w1" });
    return slots;
  }

  const timesOut = (p: Promise<unknown>) => expect(p).rejects.toSatisfy((e) => e instanceof GentlyError && e.code === "timeout");

  it("keeps them while their writer still answers, even when another writer takes the next acquisition", async () => {
    const slots = fullRing(new Set(["w1", "w2"]));
    await timesOut(slots.take({ acqId: "acq-b", volumeUid: "vol-b", writerId: "w2" }, () => false));
    expect(ring!.stats().full).toBe(2);
  });

  it("keeps them when the same writer instance takes the next acquisition (it may only be cut off from NATS)", async () => {
    const slots = fullRing(new Set());
    await timesOut(slots.take({ acqId: "acq-b", volumeUid: "vol-b", writerId: "w1" }, () => false));
    expect(ring!.stats().full).toBe(2);
  });

  it("frees them only when no slot is free, once their writer is gone and another one took the next acquisition", async () => {
    const slots = fullRing(new Set(["w2"]));
    const next = { acqId: "acq-b", volumeUid: "vol-b", writerId: "w2" };
    // the reader did release one of them: that free slot is used first, the other frame stays
    ring!.release(1, 1);
    expect(await slots.take(next, () => false)).toBe(1);
    expect(ring!.stats().full).toBe(1);
    const t0 = Date.now();
    expect(await slots.take(next, () => false)).toBe(0);
    expect(Date.now() - t0).toBeLessThan(500);
    expect(ring!.stats()).toMatchObject({ full: 0, writing: 2 });
  });

  it("frees them once the writer announced their volume, even when that same writer runs on (descriptors lost while NATS was down)", async () => {
    const slots = fullRing(new Set(["w1"]));
    const next = { acqId: "acq-b", volumeUid: "vol-b", writerId: "w1" };
    slots.volumeSettled("vol-other");
    await timesOut(slots.take(next, () => false));
    slots.volumeSettled("vol-a");
    expect(await slots.take(next, () => false)).not.toBeNull();
    expect(ring!.stats().full).toBe(0);
  });

  it("never frees slots of the acquisition being taken for", async () => {
    const slots = fullRing(new Set());
    slots.volumeSettled("vol-a");
    await timesOut(slots.take({ acqId: "acq-a", volumeUid: "vol-a", writerId: "w2" }, () => false));
    expect(ring!.stats().full).toBe(2);
  });
});
