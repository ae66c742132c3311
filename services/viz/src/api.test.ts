import { readFile, symlink } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decode } from "fast-png";
import { call, jetStreamOf, publishDurable } from "@gently/bus";
import { writeSampleVolume } from "@gently/datastore";
import { writeDerivedItem } from "@gently/derived";
import { derivedPathFor } from "@gently/storage";
import { datastore, DerivedWritten, newUid, RunProgress, streams, subjects, viz, type Uid, type VolumeWritten } from "@gently/protocol";
import { waitFor } from "@gently/testing";
import { mipUidOf } from "./mip-store";
import { startVizHarness, type VizHarness } from "../test/harness";
import { announceVolume } from "./announce-volume";

const W = 256;
const H = 128;
/** A known ramp: value = 200·x + y + 10·z. */
const ramp = (z: number) => {
  const p = new Uint16Array(W * H);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) p[y * W + x] = 200 * x + y + 10 * z;
  return p;
};
/** Deterministic full-range noise, different for every (c, z). */
const noise = (w: number, h: number, c: number, z: number) => {
  const p = new Uint16Array(w * h);
  let s = (c * 7919 + z * 104729 + 1) >>> 0;
  for (let i = 0; i < p.length; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    p[i] = s >>> 16;
  }
  return p;
};
/** The reference 16→8 bit mapping, written independently of the server's lookup table. */
const to8 = (v: number, min: number, max: number) => (v <= min ? 0 : v >= max ? 255 : Math.round(((v - min) * 255) / (max - min)));
/** Smallest value with at least p % of samples at or below it. */
const percentile = (sorted: Uint16Array, p: number) => sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1];

async function get(h: VizHarness, url: string, headers: Record<string, string> = {}) {
  const res = await fetch(h.base + url, { headers });
  return { status: res.status, headers: res.headers, body: new Uint8Array(await res.arrayBuffer()) };
}
async function getJson(h: VizHarness, url: string) {
  const res = await get(h, url);
  return { status: res.status, json: JSON.parse(Buffer.from(res.body).toString("utf8")) };
}
/** Sends the path exactly as written (fetch would normalise `..`). */
function rawGet(h: VizHarness, rawPath: string): Promise<number> {
  const { hostname, port } = new URL(h.base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname, port, path: rawPath, method: "GET" }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end();
  });
}

describe("viz HTTP API (real viz and indexer processes, real NATS, real OME-TIFF files)", () => {
  let h: VizHarness;
  let rampVolume: VolumeWritten;
  let twoChannel: VolumeWritten;
  let fileOnly: VolumeWritten;

  beforeAll(async () => {
    h = await startVizHarness({ indexer: true });
    rampVolume = await writeSampleVolume(h.storage, { size_x: W, size_y: H, size_z: 4, plane: (_c, z) => ramp(z), session_id: "api-ramp" });
    twoChannel = await writeSampleVolume(h.storage, { size_x: 96, size_y: 64, size_z: 5, size_c: 2, plane: (c, z) => noise(96, 64, c, z), session_id: "api-two" });
    // written but never announced: the indexer cannot know it
    fileOnly = await writeSampleVolume(h.storage, { size_x: 32, size_y: 16, size_z: 1, plane: () => new Uint16Array(32 * 16).fill(7) });
    await announceVolume(h.js, rampVolume);
    await announceVolume(h.js, twoChannel);
    await waitFor(async () => (await call(h.nc, datastore.get, { uid: twoChannel.uid }).catch(() => null)) !== null, 20_000, "indexer to index the volumes");
  });
  afterAll(async () => {
    await h?.stop();
  });

  it("answers /healthz and registers gently-viz with a status endpoint", async () => {
    expect((await getJson(h, "/healthz")).json).toEqual({ ok: true });
    const status = await call(h.nc, viz.status, {});
    expect(status.http_port).toBe(Number(new URL(h.base).port));
  });

  it("gives an image's metadata from the DataStore, and from the file's OME-XML when the indexer does not know it", async () => {
    const indexed = await getJson(h, `/api/images/${twoChannel.uid}`);
    expect(indexed.status).toBe(200);
    expect(indexed.json).toMatchObject({ uid: twoChannel.uid, source: "datastore", data_type: "volume", session_id: "api-two" });
    expect(indexed.json.geometry).toEqual({ size_x: 96, size_y: 64, size_z: 5, size_c: 2, dtype: "uint16" });
    expect(indexed.json.channels).toHaveLength(2);

    const unindexed = await getJson(h, `/api/images/${fileOnly.uid}`);
    expect(unindexed.status).toBe(200);
    expect(unindexed.json).toMatchObject({ uid: fileOnly.uid, source: "file", data_type: "image", shape: [1, 16, 32], dtype: "uint16" });
  });

  it("renders a slice of a known ramp to exactly the expected 8-bit values, with a given window and with auto contrast", async () => {
    const z = 2;
    const fixed = await get(h, `/api/images/${rampVolume.uid}/slice/${z}.png?min=1000&max=41000`);
    expect(fixed.status).toBe(200);
    expect(fixed.headers.get("content-type")).toBe("image/png");
    const png = decode(fixed.body);
    expect([png.width, png.height, png.depth, png.channels]).toEqual([W, H, 8, 1]);
    const source = ramp(z);
    const expected = Uint8Array.from(source, (v) => to8(v, 1000, 41000));
    expect(Buffer.from(png.data as Uint8Array).equals(Buffer.from(expected))).toBe(true);

    const auto = await get(h, `/api/images/${rampVolume.uid}/slice/${z}.png`);
    const sorted = source.slice().sort();
    const [lo, hi] = [percentile(sorted, 0.5), percentile(sorted, 99.5)];
    expect(auto.headers.get("x-gently-window")).toBe(`${lo},${hi}`);
    const autoExpected = Uint8Array.from(source, (v) => to8(v, lo, hi));
    expect(Buffer.from(decode(auto.body).data as Uint8Array).equals(Buffer.from(autoExpected))).toBe(true);
  });

  it("bins a slice by block means before contrast when asked", async () => {
    const png = decode((await get(h, `/api/images/${rampVolume.uid}/slice/1.png?bin=2&min=0&max=65535`)).body);
    expect([png.width, png.height]).toEqual([W / 2, H / 2]);
    const source = ramp(1);
    const expected = new Uint8Array((W / 2) * (H / 2));
    for (let y = 0; y < H / 2; y++) {
      for (let x = 0; x < W / 2; x++) {
        const at = (dx: number, dy: number) => source[(2 * y + dy) * W + 2 * x + dx];
        expected[y * (W / 2) + x] = to8(Math.round((at(0, 0) + at(1, 0) + at(0, 1) + at(1, 1)) / 4), 0, 65535);
      }
    }
    expect(Buffer.from(png.data as Uint8Array).equals(Buffer.from(expected))).toBe(true);
  });

  it("reads the requested channel and plane of a two-camera volume", async () => {
    const png = decode((await get(h, `/api/images/${twoChannel.uid}/slice/3.png?c=1&min=0&max=65535`)).body);
    const expected = Uint8Array.from(noise(96, 64, 1, 3), (v) => to8(v, 0, 65535));
    expect(Buffer.from(png.data as Uint8Array).equals(Buffer.from(expected))).toBe(true);
  });

  it("serves the MIP as the true maximum, cached as a derived item with lineage and announced on gently.derived.written", async () => {
    const trueMax = new Uint16Array(96 * 64);
    for (let z = 0; z < 5; z++) noise(96, 64, 1, z).forEach((v, i) => (trueMax[i] = Math.max(trueMax[i], v)));
    const res = await get(h, `/api/images/${twoChannel.uid}/mip.png?c=1&min=0&max=65535`);
    expect(res.status).toBe(200);
    const mipUid = mipUidOf(twoChannel.uid, 1);
    expect(res.headers.get("x-gently-mip-uid")).toBe(mipUid);
    expect(Buffer.from(decode(res.body).data as Uint8Array).equals(Buffer.from(Uint8Array.from(trueMax, (v) => to8(v, 0, 65535))))).toBe(true);

    // The cached derived file holds the exact 16-bit projection.
    const cached = decode(await readFile(derivedPathFor(h.storage, mipUid, "png")));
    expect(cached.depth).toBe(16);
    expect(Array.from(cached.data)).toEqual(Array.from(trueMax));

    // The indexer saw the announcement: the MIP is a child of the volume.
    const child = await waitFor(
      async () => (await call(h.nc, datastore.children, { uid: twoChannel.uid })).items.find((i) => i.uid === mipUid),
      20_000,
      "MIP in the DataStore",
    );
    expect(child).toMatchObject({ data_type: "analysis", parent_uid: twoChannel.uid, metadata: { kind: "mip", channel: 1 } });

    // A second request is served from the cache and announces nothing new.
    const { jsm } = await jetStreamOf(h.nc);
    const before = (await jsm.streams.info(streams.data.name)).state.messages;
    expect((await get(h, `/api/images/${twoChannel.uid}/mip.png?c=1&min=0&max=65535`)).body).toEqual(res.body);
    expect((await jsm.streams.info(streams.data.name)).state.messages).toBe(before);
  });

  it("streams the raw TIFF and honours byte ranges", async () => {
    const file = await readFile(rampVolume.path);
    const whole = await get(h, `/api/images/${rampVolume.uid}/raw`);
    expect(whole.status).toBe(200);
    expect(whole.headers.get("accept-ranges")).toBe("bytes");
    expect(Buffer.from(whole.body).equals(file)).toBe(true);

    const middle = await get(h, `/api/images/${rampVolume.uid}/raw`, { Range: "bytes=1000-1999" });
    expect(middle.status).toBe(206);
    expect(middle.headers.get("content-range")).toBe(`bytes 1000-1999/${file.length}`);
    expect(Buffer.from(middle.body).equals(file.subarray(1000, 2000))).toBe(true);

    const tail = await get(h, `/api/images/${rampVolume.uid}/raw`, { Range: "bytes=-100" });
    expect(Buffer.from(tail.body).equals(file.subarray(file.length - 100))).toBe(true);
    const open = await get(h, `/api/images/${rampVolume.uid}/raw`, { Range: `bytes=${file.length - 10}-` });
    expect(Buffer.from(open.body).equals(file.subarray(file.length - 10))).toBe(true);

    const beyond = await get(h, `/api/images/${rampVolume.uid}/raw`, { Range: `bytes=${file.length}-` });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get("content-range")).toBe(`bytes */${file.length}`);
    expect(JSON.parse(Buffer.from(beyond.body).toString()).error.field).toBe("range");
  });

  it("refuses malformed uids and parameters with 400 naming the parameter and its limit", async () => {
    const uid = rampVolume.uid;
    const cases: [string, string, RegExp][] = [
      ["/api/images/not-a-uid", "uid", /21-character/],
      [`/api/images/${uid}X`, "uid", /21-character/],
      [`/api/images/${uid}/slice/abc.png`, "z", /integer/],
      [`/api/images/${uid}/slice/4.png`, "z", /\[0, 3\]/],
      [`/api/images/${uid}/slice/1.png?c=1`, "c", /\[0, 0\]/],
      [`/api/images/${uid}/slice/1.png?c=99`, "c", /15/],
      [`/api/images/${uid}/slice/1.png?max=70000&min=0`, "max", /65535/],
      [`/api/images/${uid}/slice/1.png?min=-1&max=5`, "min", /0/],
      [`/api/images/${uid}/slice/1.png?min=5`, "max", /together/],
      [`/api/images/${uid}/slice/1.png?min=9&max=9`, "max", /greater than min/],
      [`/api/images/${uid}/slice/1.png?min=1.5&max=9`, "min", /integer/],
      [`/api/images/${uid}/slice/1.png?min=1&min=2&max=9`, "min", /more than once/],
      [`/api/images/${uid}/slice/1.png?gamma=2`, "gamma", /unknown parameter/],
      [`/api/images/${uid}/mip.png?c=2`, "c", /\[0, 0\]/],
      [`/api/images/${uid}/slice/1.png?bin=9`, "bin", /8/],
      [`/api/images/${uid}/mip.png?bin=0`, "bin", /1/],
      [`/api/images/${uid}/slice/1.png?min=${"9".repeat(2000)}`, "path", /2048/],
      ["/api/volumes?limit=5000", "limit", /1000/],
      ["/api/volumes?since=yesterday", "since", /./],
      ["/api/volumes?session=a%2Fb", "session", /letters/],
      ["/api/runs/abc", "run_uid", /21-character/],
    ];
    for (const [url, field, message] of cases) {
      const { status, json } = await getJson(h, url);
      expect({ url, status, field: json.error?.field }).toEqual({ url, status: 400, field });
      expect(json.error.message).toMatch(message);
    }
  });

  it("answers 404 for a well-formed uid that names nothing", async () => {
    const unknown = newUid();
    for (const url of [`/api/images/${unknown}`, `/api/images/${unknown}/slice/0.png`, `/api/images/${unknown}/mip.png`, `/api/images/${unknown}/raw`, `/api/runs/${unknown}`]) {
      const { status, json } = await getJson(h, url);
      expect({ url, status, code: json.error.code }).toEqual({ url, status: 404, code: "not_found" });
    }
  });

  it("never reads outside the storage root: encoded traversal, raw `..` paths and symlinks are refused", async () => {
    for (const p of [
      "/api/images/..%2F..%2F..%2F..%2Fetc%2Fpasswd/raw",
      "/api/images/..%2f..%2fetc%2fpasswd",
      "/api/images/%2e%2e%2f%2e%2e%2fetc%2fpasswd/slice/0.png",
      "/api/images/%2E%2E/raw",
      "/api/detections/..%2F..%2Fetc%2Fpasswd",
      "/api/images/%E0%A4%A/raw",
    ]) {
      expect({ p, status: await rawGet(h, p) }).toEqual({ p, status: 400 });
    }
    for (const p of ["/api/images/../../../../etc/passwd", "/../../etc/passwd", "/..%2F..%2Fetc%2Fpasswd", "/%2e%2e/%2e%2e/etc/passwd", "/app.js/../../package.json"]) {
      expect({ p, status: await rawGet(h, p) }).toEqual({ p, status: 404 });
    }
    // A volume name that is a symlink out of the storage root.
    const sneaky = newUid();
    await symlink("/etc/passwd", path.join(h.storage, "volumes", `${sneaky}.tif`));
    const res = await get(h, `/api/images/${sneaky}/raw`);
    expect(res.status).toBe(404);
    expect(Buffer.from(res.body).toString()).not.toContain("root:");
  });

  it("lists volumes from the DataStore by session and time", async () => {
    const { json } = await getJson(h, "/api/volumes?session=api-ramp");
    expect(json.items.map((i: { uid: string }) => i.uid)).toEqual([rampVolume.uid]);
    const all = await getJson(h, `/api/volumes?since=${encodeURIComponent(rampVolume.created)}`);
    expect(all.json.items.map((i: { uid: string }) => i.uid).sort()).toEqual([rampVolume.uid, twoChannel.uid].sort());
    expect(all.json.items[0]).not.toHaveProperty("path");
  });

  it("replays a run's documents from GENTLY_RUNS in order, with its latest progress", async () => {
    const run = newUid();
    const descriptor = newUid();
    const t = Date.now() / 1000;
    const docs: [string, unknown][] = [
      ["start", { uid: run, time: t, plan_name: "z_stack", plan_args: {}, session_id: "api-run", num_points: 2, versions: {} }],
      ["descriptor", { uid: descriptor, run_start: run, time: t, name: "primary", data_keys: {} }],
      ["event", { uid: newUid(), descriptor, time: t, seq_num: 1, data: { n: 1 }, timestamps: { n: t } }],
      ["stop", { uid: newUid(), run_start: run, time: t, exit_status: "success", reason: "", plan_name: "z_stack", num_events: { primary: 1 }, volume_uids: [] }],
    ];
    for (const [kind, doc] of docs) await h.js.publish(subjects.run.doc(run, kind), JSON.stringify(doc));
    await publishDurable(h.js, subjects.run.progress(run), RunProgress, { run_uid: run as Uid, done: 2, total: 2, phase: "done" }, newUid());
    // another run's document must not leak in
    await h.js.publish(subjects.run.doc(newUid(), "start"), JSON.stringify(docs[0][1]));
    const { status, json } = await getJson(h, `/api/runs/${run}`);
    expect(status).toBe(200);
    expect(json.documents.map((d: { kind: string }) => d.kind)).toEqual(["start", "descriptor", "event", "stop"]);
    expect(json.documents[0].doc).toEqual(docs[0][1]);
    expect(json.progress).toMatchObject({ done: 2, total: 2, phase: "done" });
  });

  it("gives the detection boxes of an image from its derived detection items", async () => {
    const detectionUid = newUid();
    const document = {
      format: "gently.detections/v1",
      image_uid: rampVolume.uid,
      embryos: [
        { embryo_id: "embryo_1", bbox: [10, 20, 60, 70], confidence: 0.9 },
        { embryo_id: "embryo_2", bbox: [100, 30, 150, 90], confidence: 0.8 },
      ],
    };
    // Written and announced the way the SAM service does it.
    const body = await writeDerivedItem(
      h.storage,
      { uid: detectionUid, ext: "json", data_type: "detection", parent_uid: rampVolume.uid, metadata: { method: "classical", count: 2 } },
      new TextEncoder().encode(JSON.stringify(document)),
    );
    await publishDurable(h.js, subjects.derived.written, DerivedWritten, body, body.uid);
    const result = await waitFor(async () => {
      const { json } = await getJson(h, `/api/detections/${rampVolume.uid}`);
      return json.detections?.length === 1 ? json : null;
    }, 20_000, "detections listed");
    expect(result.detections[0].uid).toBe(detectionUid);
    expect(result.detections[0].boxes).toEqual([
      { x0: 10, y0: 20, x1: 60, y1: 70, label: "embryo_1", confidence: 0.9 },
      { x0: 100, y0: 30, x1: 150, y1: 90, label: "embryo_2", confidence: 0.8 },
    ]);
    expect((await getJson(h, `/api/detections/${twoChannel.uid}`)).json.detections).toEqual([]);
    expect((await getJson(h, `/api/detections/${newUid()}`)).status).toBe(404);
  });
});
