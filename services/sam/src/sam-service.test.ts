import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NatsConnection } from "@nats-io/transport-node";
import { fromFile } from "geotiff";
import { call, connectBus, createLogger, decodeJson, encodeJson, errorOf, jetStreamOf } from "@gently/bus";
import { padBox, writeTinySamModels, type BBox } from "@gently/detection";
import { readOmeMetadata } from "@gently/ome-tiff";
import {
  DerivedWritten,
  GentlyError,
  hw,
  newUid,
  sam,
  streams,
  subjects,
  type DetectReply,
  type DetectRequest,
  type Uid,
} from "@gently/protocol";
import { spawnService, startTestNats, tempStorage, waitFor, type ServiceProcess, type TestNats } from "@gently/testing";
import { simGroundTruth, type SimEmbryo } from "./sim-ground-truth";

const logger = createLogger("sam-test", "silent");

/**
 * The simulated sample: five embryos inside the bottom camera's field (a
 * 1024×1024 sensor at 0.65 µm/px around the start position x 1500, y 0, so
 * x 1167–1833 µm, y −333–333 µm) and three wholly outside it.
 */
const SIM_CONFIG = {
  seed: 11,
  cameras: { "Bottom PCO": { sensor_width: 1024, sensor_height: 1024 } },
  embryos: [
    { x_um: 1300, y_um: -150 },
    { x_um: 1450, y_um: 200 },
    { x_um: 1620, y_um: -40 },
    { x_um: 1760, y_um: 230 },
    { x_um: 1220, y_um: 120 },
    { x_um: 1100, y_um: 0 },
    { x_um: 1500, y_um: 400 },
    { x_um: 1900, y_um: -300 },
  ],
};
const POSITION_TOLERANCE_UM = 5;

describe("sam service (real process, real NATS, image snapped by the real hardware and writer services)", () => {
  let nats: TestNats;
  let nc: NatsConnection;
  const storage = tempStorage("gently-sam-");
  const configFile = path.join(storage.dir, "sim.json");
  const modelDir = path.join(storage.dir, "models");
  let models: { encoderPath: string; decoderPath: string };
  let imageUid: Uid;
  let inView: SimEmbryo[];
  let outOfView: SimEmbryo[];
  const announced: DerivedWritten[] = [];

  const samEnv = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
    GENTLY_NATS_URL: nats.url,
    GENTLY_STORAGE: storage.dir,
    GENTLY_SAM_ENCODER: "",
    GENTLY_SAM_DECODER: "",
    ...extra,
  });
  const startSam = async (env: NodeJS.ProcessEnv): Promise<ServiceProcess> => {
    const p = spawnService("sam", env);
    await p.waitForLog((l) => l.includes('"msg":"started"'), 45_000);
    return p;
  };
  const detect = (body: DetectRequest) => call(nc, sam.detect, body, { timeoutMs: 30_000 });
  const refusal = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e as GentlyError);
  /** A request sent as raw JSON, past the client-side schema check, so the service's own check answers. */
  const rawDetect = async (body: unknown): Promise<GentlyError | null> => errorOf(await nc.request(subjects.sam.detect, encodeJson(body), { timeout: 10_000 }));

  beforeAll(async () => {
    nats = await startTestNats();
    writeFileSync(configFile, JSON.stringify(SIM_CONFIG));
    const hwEnv = {
      GENTLY_NATS_URL: nats.url,
      GENTLY_STORAGE: storage.dir,
      GENTLY_CONFIG: configFile,
      GENTLY_RING_PATH: `/dev/shm/gently-sam-test-ring-${newUid()}`,
      GENTLY_RING_SLOTS: "2",
    };
    const hardware = spawnService("hardware", hwEnv);
    const writer = spawnService("writer", { GENTLY_NATS_URL: nats.url, GENTLY_STORAGE: storage.dir });
    try {
      await Promise.all([hardware, writer].map((p) => p.waitForLog((l) => l.includes('"msg":"started"'), 45_000)));
      nc = await connectBus({ servers: nats.url, name: "sam-test", logger });
      imageUid = newUid();
      await call(nc, hw.snap, { acq_id: newUid(), volume_uid: imageUid, session_id: "sam-test", camera: "Bottom PCO", led: "Open" });
      await waitFor(() => existsSync(path.join(storage.dir, "volumes", `${imageUid}.tif`)), 20_000, "the snapped image on disk");
    } finally {
      // Only the file is needed from here on; free the CPU for detection.
      await Promise.all([hardware.stop(), writer.stop()]);
    }

    const truth = simGroundTruth(configFile);
    const camera = truth.cameras.find((c) => c.name === "Bottom PCO")!;
    const halfW = (camera.sensor_width * camera.pixel_size_um) / 2;
    const halfH = (camera.sensor_height * camera.pixel_size_um) / 2;
    const whollyInside = (e: SimEmbryo) => Math.abs(e.x_um - 1500) + e.a_um <= halfW && Math.abs(e.y_um) + e.a_um <= halfH;
    inView = truth.embryos.filter(whollyInside);
    outOfView = truth.embryos.filter((e) => !whollyInside(e));

    models = writeTinySamModels(modelDir);
    nc.subscribe(subjects.derived.written, {
      callback: (_e, m) => {
        announced.push(DerivedWritten.parse(decodeJson(m.data)));
      },
    });
  }, 120_000);

  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
    storage.remove();
  });

  /** Each detection matched to the sim's embryo within tolerance; every embryo in view found once and nothing else. */
  function expectMatchesTruth(reply: DetectReply) {
    expect(inView.length).toBe(5);
    expect(outOfView.length).toBe(3);
    const matched = new Set<SimEmbryo>();
    for (const e of reply.embryos) {
      const nearest = [...inView, ...outOfView].sort(
        (a, b) => Math.hypot(a.x_um - e.stage_x_um, a.y_um - e.stage_y_um) - Math.hypot(b.x_um - e.stage_x_um, b.y_um - e.stage_y_um),
      )[0];
      const distance = Math.hypot(nearest.x_um - e.stage_x_um, nearest.y_um - e.stage_y_um);
      expect(distance, `${e.embryo_id} at (${e.stage_x_um}, ${e.stage_y_um})`).toBeLessThanOrEqual(POSITION_TOLERANCE_UM);
      expect(inView).toContain(nearest);
      expect(matched.has(nearest), "one detection per embryo").toBe(false);
      matched.add(nearest);
    }
    expect(matched.size).toBe(inView.length);
  }

  async function readMask(file: string): Promise<ArrayLike<number>> {
    const tiff = await fromFile(file);
    try {
      const [raster] = (await (await tiff.getImage(0)).readRasters({ interleave: false })) as unknown as ArrayLike<number>[];
      return raster;
    } finally {
      await tiff.close?.();
    }
  }

  function labelCounts(mask: ArrayLike<number>): Map<number, number> {
    const counts = new Map<number, number>();
    for (let i = 0; i < mask.length; i++) if (mask[i]) counts.set(mask[i], (counts.get(mask[i]) ?? 0) + 1);
    return counts;
  }

  describe("without model files", () => {
    let service: ServiceProcess;
    let reply: DetectReply;

    beforeAll(async () => {
      service = await startSam(samEnv());
    });
    afterAll(async () => {
      expect(await service.stop()).toBe(0);
    });

    it("starts, and says in its status that SAM is not loaded and why", async () => {
      const status = await call(nc, sam.status, {});
      expect(status).toMatchObject({ model_loaded: false, state: "not_configured", error: null, encoder_path: null, decoder_path: null, execution_provider: null });
      expect(status.reason).toContain("GENTLY_SAM_ENCODER");
      expect(status.reason).toContain("classical");
    });

    it("finds every simulated embryo in the field of view and no others, at the right stage positions, with the classical stage alone", async () => {
      reply = await detect({ image_uid: imageUid });
      expect(reply.method).toBe("classical");
      expect(reply.embryos.every((e) => e.method === "classical")).toBe(true);
      expect(reply.image).toEqual({ source: "image", width: 1024, height: 1024, pixel_size_um: 0.65, stage_x_um: 1500, stage_y_um: 0 });
      expectMatchesTruth(reply);
      expect(reply.embryos.map((e) => e.label)).toEqual([1, 2, 3, 4, 5]);
      for (const e of reply.embryos) {
        // the sim's embryos are ellipses of ~π·25·15 µm²
        expect(e.area_um2).toBeGreaterThan(600);
        expect(e.area_um2).toBeLessThan(2000);
      }
      const status = await call(nc, sam.status, {});
      expect(status.detections).toBe(1);
      expect(status.last_latency_ms).toBeCloseTo(reply.latency_ms, 6);
      expect(status.encoder_runs).toBe(0);
    });

    it("writes the label mask and the detections under derived/ with sidecars, and announces both with the image as parent", async () => {
      const derived = path.join(storage.dir, "derived");
      expect(reply.mask_path).toBe(path.join(derived, `${reply.mask_uid}.ome.tif`));
      expect(reply.detections_path).toBe(path.join(derived, `${reply.detection_uid}.json`));
      // atomic writes leave no temp or partial files behind
      expect(readdirSync(derived).filter((n) => n.startsWith("."))).toEqual([]);

      const mask = await readMask(reply.mask_path);
      expect(mask.length).toBe(1024 * 1024);
      const counts = labelCounts(mask);
      expect([...counts.keys()].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5]);
      for (const e of reply.embryos) expect(counts.get(e.label)).toBe(e.area_pixels);
      const ome = await readOmeMetadata(reply.mask_path);
      expect(ome.pixels.type).toBe("uint8");
      expect(ome.meta).toMatchObject({ uid: reply.mask_uid, pixel_size_um: 0.65, stage_position_um: { x_um: 1500, y_um: 0 } });
      expect(ome.meta!.extra).toMatchObject({ kind: "label_mask", parent_uid: imageUid, detection_uid: reply.detection_uid, labels: "5" });

      const doc = JSON.parse(readFileSync(reply.detections_path, "utf8"));
      expect(doc).toMatchObject({ detection_uid: reply.detection_uid, image_uid: imageUid, mask_uid: reply.mask_uid, method: "classical", model: null });
      expect(doc.embryos).toEqual(reply.embryos);

      const items = await waitFor(() => {
        const mine = announced.filter((a) => a.uid === reply.mask_uid || a.uid === reply.detection_uid);
        return mine.length === 2 ? mine : null;
      }, 10_000, "both announcements");
      const detection = items.find((a) => a.uid === reply.detection_uid)!;
      const maskItem = items.find((a) => a.uid === reply.mask_uid)!;
      expect(detection).toMatchObject({ data_type: "detection", parent_uid: imageUid, session_id: "sam-test", path: reply.detections_path, metadata: { mask_uid: reply.mask_uid, count: 5 } });
      expect(maskItem).toMatchObject({ data_type: "analysis", parent_uid: imageUid, session_id: "sam-test", path: reply.mask_path, dtype: "uint8", shape: [1, 1024, 1024] });
      expect(detection.bytes).toBe(readFileSync(reply.detections_path).length);
      // the sidecar holds exactly what was announced
      expect(JSON.parse(readFileSync(`${reply.mask_path}.meta.json`, "utf8"))).toEqual(maskItem);
      expect(JSON.parse(readFileSync(`${reply.detections_path}.meta.json`, "utf8"))).toEqual(detection);
      // durable: stored in GENTLY_DATA under the item's uid
      const { jsm } = await jetStreamOf(nc);
      const last = await jsm.streams.getMessage(streams.data.name, { last_by_subj: subjects.derived.written });
      expect(DerivedWritten.parse(last!.json()).uid).toBe(reply.detection_uid);
      expect(last!.header?.get("Nats-Msg-Id")).toBe(reply.detection_uid);
    });

    it("refuses SAM when no model is configured, a malformed uid and an unknown uid, and keeps serving", async () => {
      const noSam = await refusal(detect({ image_uid: imageUid, options: { method: "sam" } }));
      expect(noSam!.code).toBe("unavailable");
      expect(noSam!.message).toMatch(/not configured.*GENTLY_SAM_ENCODER/);

      const malformed = await rawDetect({ image_uid: "../volumes/x" });
      expect(malformed).toMatchObject({ code: "invalid_request", field: "image_uid" });

      const unknown = newUid();
      const missing = await refusal(detect({ image_uid: unknown }));
      expect(missing).toMatchObject({ code: "not_found", field: "image_uid" });
      expect(missing!.message).toContain(unknown);

      const again = await detect({ image_uid: imageUid });
      expect(again.embryos.length).toBe(5);
      expect(again.detection_uid).not.toBe(reply.detection_uid);
    });
  });

  describe("with SAM models (the tiny SAM-shaped ONNX pair on onnxruntime)", () => {
    let service: ServiceProcess;

    beforeAll(async () => {
      service = await startSam(
  samEnv({ GENTLY_SAM_ENCODER: models.encoderPath, GENTLY_SAM_DECODER: models.decoderPath }));
    });
    afterAll(async () => {
      expect(await service.stop()).toBe(0);
    });

    it("says SAM is loaded, with its files and execution provider", async () => {
      const status = await waitFor(async () => {
        const s = await call(nc, sam.status, {});
        return s.state !== "loading" ? s : null;
      });
      expect(status).toMatchObject({
        model_loaded: true,
        state: "ready",
        error: null,
        encoder_path: models.encoderPath,
        decoder_path: models.decoderPath,
        execution_provider: "cpu",
        encoder_runs: 0,
      });
    });

    it("prompts SAM with each candidate box (padded 20 px, best multimask output) and maps masks and boxes back to the image", async () => {
      const classical = await detect({ image_uid: imageUid, options: { method: "classical" } });
      const reply = await detect({ image_uid: imageUid });
      expect(reply.method).toBe("sam");
      expect(reply.embedding_cached).toBe(false);
      expect(reply.timings_ms.sam_embed).toBeGreaterThan(0);
      expect(reply.embryos.map((e) => e.method)).toEqual(Array(5).fill("sam"));
      // The tiny decoder's best multimask output is the prompt box itself: each SAM embryo is its
      // candidate's box padded by 20 px (the other outputs are empty or inverted boxes).
      expect(reply.embryos.length).toBe(classical.embryos.length);
      reply.embryos.forEach((e, k) => {
        const expected = padBox(classical.embryos[k].bbox as BBox, 20, 1024, 1024);
        e.bbox.forEach((v, i) => expect(Math.abs(v - expected[i]), `${e.embryo_id} bbox ${e.bbox} vs ${expected}`).toBeLessThanOrEqual(1));
        expect(e.area_pixels).toBe((e.bbox[2] - e.bbox[0]) * (e.bbox[3] - e.bbox[1]));
        expect(e.confidence).toBeCloseTo(0.9, 5);
      });
      expectMatchesTruth(reply);

      const mask = await readMask(reply.mask_path);
      const counts = labelCounts(mask);
      for (const e of reply.embryos) {
        const [x0, y0, x1, y1] = e.bbox;
        // the label sits exactly on the embryo's box in the original image
        expect(mask[y0 * 1024 + x0]).toBe(e.label);
        expect(mask[(y1 - 1) * 1024 + (x1 - 1)]).toBe(e.label);
        if (x0 > 0) expect(mask[y0 * 1024 + x0 - 1]).not.toBe(e.label);
        if (y1 < 1024) expect(mask[y1 * 1024 + x0]).not.toBe(e.label);
        expect(counts.get(e.label)).toBe(e.area_pixels);
      }
      const doc = JSON.parse(readFileSync(reply.detections_path, "utf8"));
      expect(doc.method).toBe("sam");
      expect(doc.model).toMatchObject({ encoder_path: models.encoderPath, execution_provider: "cpu" });
      expect(doc.embryos[0].sam).toMatchObject({ mask_index: 2 });
    });

    it("runs the encoder once per image: a second request reuses the cached embedding", async () => {
      const reply = await detect({ image_uid: imageUid });
      expect(reply.method).toBe("sam");
      expect(reply.embedding_cached).toBe(true);
      expect(reply.timings_ms.sam_embed).toBeLessThan(50);
      const status = await call(nc, sam.status, {});
      expect(status).toMatchObject({ encoder_runs: 1, cached_embeddings: 1, detections: 3 });
      expect(status.last_encoder_ms).toBeGreaterThan(0);
      expect(status.last_decoder_ms).toBeGreaterThan(0);
      expect(status.last_latency_ms).toBeCloseTo(reply.latency_ms, 6);
    });
  });

  describe("with a corrupt model file configured", () => {
    let service: ServiceProcess;
    let corrupt: string;

    beforeAll(async () => {
      corrupt = path.join(modelDir, "corrupt_encoder.onnx");
      writeFileSync(corrupt, Buffer.from("this is not an ONNX model\n".repeat(100)));
      service = await startSam(samEnv({ GENTLY_SAM_ENCODER: corrupt, GENTLY_SAM_DECODER: models.decoderPath }));
    });
    afterAll(async () => {
      expect(await service.stop()).toBe(0);
    });

    it("says so in its status, refuses detection naming the file, and keeps serving", async () => {
      const status = await waitFor(async () => {
        const s = await call(nc, sam.status, {});
        return s.state !== "loading" ? s : null;
      });
      expect(status).toMatchObject({ model_loaded: false, state: "failed", encoder_path: corrupt });
      expect(status.error).toContain(corrupt);

      const derivedFiles = () => readdirSync(path.join(storage.dir, "derived")).length;
      const before = derivedFiles();
      const refused = await refusal(detect({ image_uid: imageUid }));
      expect(refused!.code).toBe("unavailable");
      expect(refused!.message).toContain(corrupt);
      // never a silent downgrade to the classical stage: nothing was written for the refused request
      expect(derivedFiles()).toBe(before);

      expect((await call(nc, sam.status, {})).state).toBe("failed");
      const classical = await detect({ image_uid: imageUid, options: { method: "classical" } });
      expect(classical.method).toBe("classical");
      expect(classical.embryos.length).toBe(5);
    });
  });
});
