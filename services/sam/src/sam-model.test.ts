import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createLogger } from "@gently/bus";
import { writeTinySamModels } from "@gently/detection";
import { GentlyError } from "@gently/protocol";
import { tempStorage } from "@gently/testing";
import { SamModel } from "./sam-model";

const logger = createLogger("sam-model-test", "silent");
const refusal = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e as GentlyError);

describe("the SAM models of the service, from GENTLY_SAM_ENCODER / GENTLY_SAM_DECODER", () => {
  const dir = tempStorage("gently-sam-model-");
  const models = writeTinySamModels(dir.dir);
  afterAll(() => dir.remove());

  it("without model files: not configured, said plainly, and a request for SAM is refused", async () => {
    const model = SamModel.fromEnv({}, logger);
    expect(model.configured).toBe(false);
    expect(model.report()).toMatchObject({ state: "not_configured", error: null, encoder_path: null, execution_provider: null });
    const err = await refusal(model.get());
    expect(err).toMatchObject({ code: "unavailable" });
    expect(err!.message).toContain("GENTLY_SAM_ENCODER");
  });

  it("with both files: loads them on the CPU", async () => {
    const model = SamModel.fromEnv({ GENTLY_SAM_ENCODER: models.encoderPath, GENTLY_SAM_DECODER: models.decoderPath }, logger);
    expect(model.configured).toBe(true);
    const segmenter = await model.get();
    expect(segmenter.info().executionProvider).toBe("cpu");
    expect(model.report()).toMatchObject({ state: "ready", error: null, encoder_path: models.encoderPath, decoder_path: models.decoderPath, execution_provider: "cpu" });
    await model.dispose();
  });

  it("with a missing file: failed, and every use is refused with an error naming the file", async () => {
    const missing = path.join(dir.dir, "no-such-decoder.onnx");
    const model = SamModel.fromEnv({ GENTLY_SAM_ENCODER: models.encoderPath, GENTLY_SAM_DECODER: missing }, logger);
    const err = await refusal(model.get());
    expect(err).toMatchObject({ code: "unavailable" });
    expect(err!.message).toContain(missing);
    expect(model.report().state).toBe("failed");
    expect(model.report().error).toContain(missing);
    expect(model.configured).toBe(true);
  });

  it("with only one of the two variables set: failed, naming the missing variable", async () => {
    const model = SamModel.fromEnv({ GENTLY_SAM_ENCODER: models.encoderPath }, logger);
    expect(model.configured).toBe(true);
    expect(model.report().state).toBe("failed");
    const err = await refusal(model.get());
    expect(err!.message).toContain("GENTLY_SAM_DECODER");
  });
});
