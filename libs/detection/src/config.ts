import type { SamModelPaths } from "./make-test-model";

/** Environment variables naming the SAM model files; the SAM service reads them at start-up. */
export const SAM_ENV = { encoder: "GENTLY_SAM_ENCODER", decoder: "GENTLY_SAM_DECODER" } as const;

/**
 * Model paths from the environment, or null when neither is set (SAM disabled, classical only).
 * Setting only one of the two is a configuration mistake and throws.
 */
export function samPathsFromEnv(env: NodeJS.ProcessEnv = process.env): SamModelPaths | null {
  const encoderPath = env[SAM_ENV.encoder]?.trim() || undefined;
  const decoderPath = env[SAM_ENV.decoder]?.trim() || undefined;
  if (!encoderPath && !decoderPath) return null;
  if (!encoderPath || !decoderPath) {
    const missing = encoderPath ? SAM_ENV.decoder : SAM_ENV.encoder;
    throw new Error(`SAM needs both ${SAM_ENV.encoder} and ${SAM_ENV.decoder}; ${missing} is not set`);
  }
  return { encoderPath, decoderPath };
}
