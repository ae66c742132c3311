import { statSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NatsConnection } from "@nats-io/transport-node";
import { call } from "@gently/bus";
import { scatterEmbryos, syntheticEmbryoImage } from "@gently/detection";
import { datastore, sam } from "@gently/protocol";
import { spawnService, startAccountNats, waitFor, type AccountNats, type ServiceProcess } from "@gently/testing";
import { writeImageFile } from "./image-file";

describe("sam under its own NATS account (nats.conf), with the indexer", () => {
  let accounts: AccountNats;
  let copilot: NatsConnection;
  let writer: NatsConnection;
  const services: ServiceProcess[] = [];

  beforeAll(async () => {
    accounts = await startAccountNats("gently-sam-account-");
    copilot = await accounts.connectAs("copilot");
    writer = await accounts.connectAs("writer");
    for (const name of ["sam", "indexer"] as const) {
      services.push(spawnService(name, { ...accounts.serviceEnv(name), GENTLY_SAM_ENCODER: "", GENTLY_SAM_DECODER: "" }));
    }
    await Promise.all(services.map((s) => s.waitForLog((l) => l.includes('"msg":"started"'), 45_000)));
  });

  afterAll(async () => {
    for (const s of services) expect(await s.stop()).toBe(0);
    await accounts?.stop();
  });

  it("answers the copilot, and the indexer records both derived items as children of the image", async () => {
    const image = syntheticEmbryoImage({ width: 512, height: 384, embryos: scatterEmbryos(3, 512, 384, 38, 23), texture: 0.3 });
    const imageUid = await writeImageFile(accounts.storage, [[image.data]], { width: 512, height: 384, pixel_size_um: 0.65, stage_x_um: 900, stage_y_um: 40 });
    const imagePath = path.join(accounts.storage, "volumes", `${imageUid}.tif`);
    // registering is for the accounts that write data, never the copilot
    await call(writer, datastore.register, { uid: imageUid, path: imagePath, data_type: "image", bytes: statSync(imagePath).size, session_id: "synthetic" });
    const reply = await call(copilot, sam.detect, { image_uid: imageUid }, { timeoutMs: 30_000 });
    expect(reply.method).toBe("classical");
    expect(reply.embryos).toHaveLength(3);

    const mask = await waitFor(() => call(copilot, datastore.get, { uid: reply.mask_uid }).catch(() => null), 20_000, "the mask indexed");
    expect(mask).toMatchObject({ data_type: "analysis", parent_uid: imageUid, path: reply.mask_path, dtype: "uint8" });
    const detection = await waitFor(() => call(copilot, datastore.get, { uid: reply.detection_uid }).catch(() => null), 20_000, "the detections indexed");
    expect(detection).toMatchObject({ data_type: "detection", parent_uid: imageUid, path: reply.detections_path, session_id: "synthetic" });
    expect(detection.metadata).toMatchObject({ mask_uid: reply.mask_uid, count: 3, method: "classical" });
    const lineage = await call(copilot, datastore.lineage, { uid: reply.mask_uid });
    expect(lineage.items.map((i) => i.uid)).toEqual([imageUid, reply.mask_uid]);
    const children = await call(copilot, datastore.children, { uid: imageUid });
    expect(children.items.map((i) => i.uid).sort()).toEqual([reply.mask_uid, reply.detection_uid].sort());
  });
});
