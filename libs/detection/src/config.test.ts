import { describe, expect, it } from "vitest";
import { samPathsFromEnv } from "./config";

describe("samPathsFromEnv", () => {
  it("returns both paths, null when unset, and rejects half a configuration", () => {
    expect(samPathsFromEnv({})).toBeNull();
    expect(samPathsFromEnv({ GENTLY_SAM_ENCODER: " ", GENTLY_SAM_DECODER: "" })).toBeNull();
    expect(samPathsFromEnv({ GENTLY_SAM_ENCODER: "/m/enc.onnx", GENTLY_SAM_DECODER: "/m/dec.onnx" })).toEqual({
      encoderPath: "/m/enc.onnx",
      decoderPath: "/m/dec.onnx",
    });
    expect(() => samPathsFromEnv({ GENTLY_SAM_ENCODER: "/m/enc.onnx" })).toThrow(/GENTLY_SAM_DECODER is not set/);
  });
});
