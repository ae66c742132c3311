import { describe, expect, it } from "vitest";
import { PlaneBuffers } from "./plane-buffers";

describe("plane buffers", () => {
  it("holds as many planes as the budget allows, never fewer than two, never more than asked", () => {
    expect(new PlaneBuffers(8 << 20, 64 << 20).count).toBe(8);
    expect(new PlaneBuffers(8 << 20, 1 << 20).count).toBe(2);
    expect(new PlaneBuffers(1024, 64 << 20, 5).count).toBe(5);
  });

  it("makes a taker wait for a buffer given back, and reports idle only when all are back", async () => {
    const pool = new PlaneBuffers(16, 32);
    const a = await pool.take();
    const b = await pool.take();
    expect(a).not.toBe(b);
    let third: Buffer | undefined;
    void pool.take().then((buf) => (third = buf));
    let idle = false;
    void pool.idle().then(() => (idle = true));
    await Promise.resolve();
    expect(third).toBeUndefined();

    pool.give(a);
    await Promise.resolve();
    expect(third).toBe(a);
    expect(pool.inUse).toBe(2);

    pool.give(b);
    pool.give(third!);
    await Promise.resolve();
    expect(idle).toBe(true);
    expect(pool.inUse).toBe(0);
  });
});
