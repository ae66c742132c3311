import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import koffi from "koffi";
import { afterEach, describe, expect, it } from "vitest";
import { nativeLibraryPath } from "@gently/native";
import { createRing, openRing, type Ring, RingError, unlinkRing } from "./index";
import { fillFrame, firstMismatch } from "./testing/frame-pattern";

let counter = 0;
const paths: string[] = [];
const rings: Ring[] = [];

function ringPath(): string {
  const p = `/dev/shm/gently-ring-test-${process.pid}-${counter++}`;
  paths.push(p);
  return p;
}

function track(r: Ring): Ring {
  rings.push(r);
  return r;
}

afterEach(() => {
  for (const r of rings.splice(0)) r.close();
  for (const p of paths.splice(0)) unlinkRing(p);
});

function errorCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof RingError ? e.code : `not a RingError: ${e}`;
  }
  return undefined;
}

describe("shared-memory frame ring", () => {
  it("hands a frame written through slotPointer to another handle byte for byte", () => {
    const path = ringPath();
    const producer = track(createRing(path, { slotBytes: 10_000, numSlots: 3 }));
    const reader = track(openRing(path));
    expect(reader.slotBytes).toBe(10_000);
    expect(reader.numSlots).toBe(3);

    const slot = producer.tryAcquire();
    expect(slot).toBe(0);
    // Write through the raw slot address, as a native producer (gc_pop_next) would.
    const pixels = new Uint8Array(koffi.view(producer.slotPointer(slot!), 10_000));
    fillFrame(pixels, 42);
    expect(producer.slotPointer(slot!) % 4096n).toBe(0n);
    producer.commit(slot!, 42, 10_000);

    expect(reader.slotInfo(slot!)).toEqual({ state: "full", seq: 42, bytes: 10_000 });
    const out = Buffer.alloc(10_000);
    expect(reader.read(slot!, 42, out)).toBe(10_000);
    expect(firstMismatch(out, 42)).toBe(-1);
    expect(errorCode(() => reader.read(slot!, 42, Buffer.alloc(9_999)))).toBe("buffer");
    expect(errorCode(() => reader.read(slot!, 41, out))).toBe("stale");
  });

  it("lends a reader the frame in place (slotView): the mapped slot itself, only while the slot holds that frame", () => {
    const path = ringPath();
    const producer = track(createRing(path, { slotBytes: 8192, numSlots: 2 }));
    const reader = track(openRing(path));
    const slot = producer.tryAcquire()!;
    const pixels = new Uint8Array(koffi.view(producer.slotPointer(slot), 8192));
    fillFrame(pixels, 5);
    producer.commit(slot, 5, 6000);

    const view = reader.slotView(slot, 5);
    expect(view.byteLength).toBe(6000);
    expect(firstMismatch(view, 5)).toBe(-1);
    // Not a copy: what the producer's mapping holds is what the reader's view shows.
    pixels[10] ^= 0xff;
    expect(view[10]).toBe(pixels[10]);

    expect(errorCode(() => reader.slotView(slot, 4))).toBe("stale");
    expect(errorCode(() => reader.slotView(1 - slot, 5))).toBe("stale");
    expect(errorCode(() => reader.slotView(2, 5))).toBe("argument");
    reader.release(slot, 5);
    expect(errorCode(() => reader.slotView(slot, 5))).toBe("stale");
    // A second release of the same frame (the slot changed under a view) is refused.
    expect(errorCode(() => reader.release(slot, 5))).toBe("stale");
  });

  it("copies JS-held pixels in with write and refuses writes to slots it did not acquire", () => {
    const ring = track(createRing(ringPath(), { slotBytes: 256, numSlots: 2 }));
    const data = new Uint8Array(200);
    fillFrame(data, 7);
    expect(errorCode(() => ring.write(0, data))).toBe("state");
    const slot = ring.tryAcquire()!;
    ring.write(slot, data);
    ring.commit(slot, 7, 200);
    const out = new Uint8Array(256);
    expect(ring.read(slot, 7, out)).toBe(200);
    expect(firstMismatch(out.subarray(0, 200), 7)).toBe(-1);
    expect(errorCode(() => ring.write(slot, new Uint8Array(257)))).toBe("argument");
  });

  it("makes the producer wait when every slot is full, and times out rather than overwrite", async () => {
    const ring = track(createRing(ringPath(), { slotBytes: 64, numSlots: 2 }));
    for (let seq = 0; seq < 2; seq++) ring.commit((await ring.acquire(0))!, seq, 64);
    expect(ring.stats()).toEqual({ free: 0, full: 2, writing: 0, numSlots: 2, slotBytes: 64 });

    const t0 = performance.now();
    expect(await ring.acquire(80)).toBeNull();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(75);
    expect(ring.tryAcquire()).toBeNull();
    expect(ring.slotInfo(0)).toMatchObject({ state: "full", seq: 0 });
  });

  it("wakes a waiting acquire when a reader releases, without blocking the event loop", async () => {
    const path = ringPath();
    const producer = track(createRing(path, { slotBytes: 64, numSlots: 1 }));
    const reader = track(openRing(path));
    producer.commit(producer.tryAcquire()!, 5, 64);

    const t0 = performance.now();
    const waiting = producer.acquire(5_000);
    // This timer can only fire if acquire runs off the main thread.
    setTimeout(() => reader.release(0, 5), 30);
    expect(await waiting).toBe(0);
    const waited = performance.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(25);
    expect(waited).toBeLessThan(2_000);
  });

  it("refuses a stale release so it cannot free a newer frame in the same slot", () => {
    const ring = track(createRing(ringPath(), { slotBytes: 64, numSlots: 1 }));
    ring.commit(ring.tryAcquire()!, 100, 64);
    ring.release(0, 100);
    ring.commit(ring.tryAcquire()!, 101, 64);

    expect(errorCode(() => ring.release(0, 100))).toBe("stale");
    expect(ring.slotInfo(0)).toEqual({ state: "full", seq: 101, bytes: 64 });
    ring.release(0, 101);
    expect(errorCode(() => ring.release(0, 101))).toBe("stale");
    expect(errorCode(() => ring.read(0, 101, new Uint8Array(64)))).toBe("stale");
  });

  it("reset frees every slot, full or half-written", () => {
    const ring = track(createRing(ringPath(), { slotBytes: 64, numSlots: 3 }));
    ring.commit(ring.tryAcquire()!, 1, 64);
    ring.tryAcquire();
    expect(ring.stats()).toMatchObject({ free: 1, full: 1, writing: 1 });
    ring.reset();
    expect(ring.stats()).toMatchObject({ free: 3, full: 0, writing: 0 });
    expect(errorCode(() => ring.release(0, 1))).toBe("stale");
  });

  it("validates arguments and names the file when opening fails", () => {
    const ring = track(createRing(ringPath(), { slotBytes: 64, numSlots: 2 }));
    expect(errorCode(() => ring.commit(2, 0, 1))).toBe("argument");
    expect(errorCode(() => ring.commit(0, 2 ** 48, 1))).toBe("argument");
    expect(errorCode(() => ring.commit(0, 0, 1))).toBe("state");
    expect(() => openRing("/dev/shm/gently-no-such-ring")).toThrow(/gently-no-such-ring/);
    expect(() => createRing(ringPath(), { slotBytes: 0, numSlots: 2 })).toThrow(RingError);
  });

  it("unmaps on close only after a pending acquire returns", async () => {
    const ring = createRing(ringPath(), { slotBytes: 64, numSlots: 1 });
    ring.commit(ring.tryAcquire()!, 0, 64);
    const pending = ring.acquire(50);
    ring.close();
    expect(errorCode(() => ring.stats())).toBe("closed");
    expect(await pending).toBeNull();
  });

  it("shares frames with a reader in another process; a slow reader loses nothing", async () => {
    const path = ringPath();
    const frames = 120;
    const ring = track(createRing(path, { slotBytes: 3 * 4096 + 5, numSlots: 4 }));
    const script = fileURLToPath(new URL("./testing/ring-reader.ts", import.meta.url));
    const child = spawn(process.execPath, ["--import", "tsx", script, path, "10", "15"], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));

    const frame = new Uint8Array(ring.slotBytes);
    let waits = 0;
    for (let seq = 0; seq < frames; seq++) {
      let slot = ring.tryAcquire();
      if (slot === null) {
        waits++; // the reader is behind: block instead of overwriting
        slot = await ring.acquire(10_000);
      }
      expect(slot).not.toBeNull();
      fillFrame(frame, seq);
      ring.write(slot!, frame);
      ring.commit(slot!, seq, frame.length);
      child.stdin.write(`${slot} ${seq}\n`);
    }
    child.stdin.end("end\n");
    expect(await exited).toBe(0);

    const summary = JSON.parse(output);
    expect(summary).toEqual({ frames, lastSeq: frames - 1, outOfOrder: 0, corrupt: 0, errors: [] });
    expect(waits).toBeGreaterThan(0); // back-pressure actually happened
    expect(ring.stats()).toMatchObject({ free: 4, full: 0 });
  });
});

describe("nativeLibraryPath", () => {
  it("finds the built library in native/build", () => {
    expect(nativeLibraryPath("gently_ring")).toMatch(/native\/build\/libgently_ring\.so$/);
  });

  it("tells how to build when the library is missing", () => {
    const dir = mkdtempSync(join(tmpdir(), "gently-native-"));
    const saved = process.env.GENTLY_NATIVE_DIR;
    process.env.GENTLY_NATIVE_DIR = dir;
    try {
      expect(() => nativeLibraryPath("gently_ring")).toThrow(/npm install.*make -C native/);
    } finally {
      if (saved === undefined) delete process.env.GENTLY_NATIVE_DIR;
      else process.env.GENTLY_NATIVE_DIR = saved;
      rmSync(dir, { recursive: true });
    }
  });
});
