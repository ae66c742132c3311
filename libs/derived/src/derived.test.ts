import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { computeChecksum } from "@gently/ome-tiff";
import { DerivedWritten, newUid } from "@gently/protocol";
import { tempStorage } from "@gently/testing";
import { derivedPathFor, sidecarPathFor } from "@gently/storage";
import { readSidecar, writeDerivedItem } from "./derived";

describe("derived items", () => {
  const storage = tempStorage("gently-derived-");
  afterAll(() => storage.remove());

  it("writes the data under derived/{uid}.{ext} and its DerivedWritten body beside it", async () => {
    const uid = newUid();
    const parent = newUid();
    const data = Buffer.from(JSON.stringify({ embryos: [{ x_um: 10, y_um: 20 }] }));
    const body = await writeDerivedItem(
      storage.dir,
      { uid, ext: "json", data_type: "detection", parent_uid: parent, session_id: "s", created: "2025-01-01T00:00:00Z", metadata: { embryos: 1 } },
      data,
    );
    const file = derivedPathFor(storage.dir, uid, "json");
    expect(body).toEqual(
      DerivedWritten.parse({
        uid,
        data_type: "detection",
        path: file,
        parent_uid: parent,
        session_id: "s",
        bytes: data.length,
        checksum: await computeChecksum(file),
        created: "2025-01-01T00:00:00.000Z",
        metadata: { embryos: 1 },
      }),
    );
    expect(readFileSync(file)).toEqual(data);
    expect(await readSidecar(sidecarPathFor(file))).toEqual(body);
    // nothing temporary left behind
    expect(readdirSync(path.dirname(file)).sort()).toEqual([`${uid}.json`, `${uid}.json.meta.json`]);
  });

  it("never overwrites an item: a uid already written is refused", async () => {
    const uid = newUid();
    const item = { uid, ext: "bin", data_type: "analysis" as const, metadata: {} };
    await writeDerivedItem(storage.dir, item, Buffer.from("first"));
    await expect(writeDerivedItem(storage.dir, item, Buffer.from("second"))).rejects.toMatchObject({ code: "conflict" });
    expect(readFileSync(derivedPathFor(storage.dir, uid, "bin"), "utf8")).toBe("first");
  });

  it("refuses names that are not a uid and an extension", () => {
    expect(() => derivedPathFor(storage.dir, "../../etc/passwd", "json")).toThrow(/not a uid/);
    expect(() => derivedPathFor(storage.dir, newUid(), "../x")).toThrow(/extension/);
    expect(() => derivedPathFor(storage.dir, newUid(), "meta.json")).toThrow(/extension/);
    expect(derivedPathFor(storage.dir, "A".repeat(21), "mask.tif")).toBe(path.join(storage.dir, "derived", `${"A".repeat(21)}.mask.tif`));
  });
});
