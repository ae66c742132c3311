import { closeSync, mkdirSync, openSync, statfsSync, writeFileSync, writeSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GentlyError } from "@gently/protocol";
import { tempStorage } from "@gently/testing";
import { StorageBudget } from "./storage-budget";

describe("storage budget at begin", () => {
  let storage: ReturnType<typeof tempStorage>;
  let volumes: string;
  let quarantine: string;

  beforeEach(() => {
    storage = tempStorage();
    volumes = path.join(storage.dir, "volumes");
    quarantine = path.join(volumes, "quarantine");
    mkdirSync(quarantine, { recursive: true });
  });
  afterEach(() => storage.remove());

  const freeBytes = () => {
    const fs = statfsSync(volumes);
    return fs.bavail * fs.bsize;
  };
  const refusal = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e as GentlyError);

  it("counts finished, partial and quarantined files and the reservations of running volumes against the quota", async () => {
    writeFileSync(path.join(volumes, "a.tif"), Buffer.alloc(3000));
    writeFileSync(path.join(quarantine, "b.tif.partial"), Buffer.alloc(2000));
    const tempA = path.join(volumes, ".A.A.tif.partial");
    writeFileSync(tempA, Buffer.alloc(100));
    const budget = new StorageBudget(volumes, quarantine, 10_000);

    // 5000 used; this volume's own temp file is counted by its planned size, not twice.
    await budget.admit("A", 4000, tempA);
    const err = await refusal(budget.admit("B", 1001, path.join(volumes, ".B.B.tif.partial")));
    expect(err).toBeInstanceOf(GentlyError);
    expect(err).toMatchObject({ code: "disk_full" });
    expect(err!.message).toMatch(/needs 1001 bytes.*has 1000 left/);

    // Once A is done its reservation goes; its file (here still 100 bytes) counts as it is on disk.
    budget.release("A");
    await budget.admit("B", 4900, path.join(volumes, ".B.B.tif.partial"));
  });

  it("refuses a volume larger than the free space of the filesystem", async () => {
    const budget = new StorageBudget(volumes, quarantine);
    const err = await refusal(budget.admit("big", freeBytes() + (1 << 30), path.join(volumes, ".big.big.tif.partial")));
    expect(err).toMatchObject({ code: "disk_full" });
    expect(err!.message).toMatch(/free on the filesystem/);
  });

  it("keeps the reserve free: a volume that would leave less than it is refused, one that leaves it fits", async () => {
    const reserve = Math.floor(freeBytes() / 2);
    const budget = new StorageBudget(volumes, quarantine, undefined, reserve);
    const tooBig = freeBytes() - reserve + (64 << 20);
    const err = await refusal(budget.admit("big", tooBig, path.join(volumes, ".big.big.tif.partial")));
    expect(err).toMatchObject({ code: "disk_full" });
    expect(err!.message).toContain(`${reserve} kept free for JetStream and the index (GENTLY_WRITER_RESERVE_BYTES)`);
    await budget.admit("fits", 1 << 20, path.join(volumes, ".fits.fits.tif.partial"));
  });

  it("does not promise the same free space to two running volumes", async () => {
    const budget = new StorageBudget(volumes, quarantine);
    const sixtyPercent = Math.floor(freeBytes() * 0.6);
    await budget.admit("first", sixtyPercent, path.join(volumes, ".first.first.tif.partial"));
    const err = await refusal(budget.admit("second", sixtyPercent, path.join(volumes, ".second.second.tif.partial")));
    expect(err).toMatchObject({ code: "disk_full" });
    expect(err!.message).toMatch(/promised to volumes being written/);
  });

  it("counts what a running volume has yet to write by the blocks its sparse partial holds, not by its size", async () => {
    const budget = new StorageBudget(volumes, quarantine);
    const sixtyPercent = Math.floor(freeBytes() * 0.6);
    // A sink writes the OME-XML at the end of its partial when it opens: the file has its final size at once.
    const tempFirst = path.join(volumes, ".first.first.tif.partial");
    const fd = openSync(tempFirst, "w");
    writeSync(fd, Buffer.from("<OME/>"), 0, 6, sixtyPercent - 6);
    closeSync(fd);
    await budget.admit("first", sixtyPercent, tempFirst);
    const err = await refusal(budget.admit("second", sixtyPercent, path.join(volumes, ".second.second.tif.partial")));
    expect(err).toMatchObject({ code: "disk_full" });
    expect(err!.message).toMatch(/promised to volumes being written/);
  });
});
