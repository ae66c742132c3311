import { SAM_ENV, SamSegmenter, samPathsFromEnv, type SamModelPaths } from "@gently/detection";
import type { Logger } from "@gently/bus";
import { GentlyError } from "@gently/protocol";

export type SamModelState = "not_configured" | "loading" | "ready" | "failed";

export interface SamModelReport {
  state: SamModelState;
  reason: string;
  error: string | null;
  encoder_path: string | null;
  decoder_path: string | null;
  execution_provider: string | null;
}

/**
 * The SAM models of the service, loaded once at start in the background so
 * the service answers status (and classical detection) at once. Three cases:
 * no model files configured (classical only, said plainly), files configured
 * and loaded, or files configured but unusable — then every request that
 * would use SAM gets an `unavailable` error naming the file, rather than a
 * quiet downgrade to the classical stage the user did not ask for.
 */
export class SamModel {
  private segmenter: SamSegmenter | null = null;
  private loadError: string | null = null;
  private readonly loading: Promise<void>;

  private constructor(
    readonly paths: SamModelPaths | null,
    configError: string | null,
    logger: Logger,
    embeddingCacheSize: number,
  ) {
    if (configError) {
      this.loadError = configError;
      this.loading = Promise.resolve();
    } else if (!paths) {
      this.loading = Promise.resolve();
    } else {
      this.loading = SamSegmenter.load({ ...paths, embeddingCacheSize }).then(
        (s) => {
          this.segmenter = s;
          logger.info({ encoder: paths.encoderPath, decoder: paths.decoderPath }, "SAM models loaded");
        },
        (err: unknown) => {
          this.loadError = (err as Error)?.message ?? String(err);
          logger.error({ error: this.loadError }, "SAM models could not be loaded; detection using SAM will be refused");
        },
      );
    }
  }

  /** Reads GENTLY_SAM_ENCODER / GENTLY_SAM_DECODER and starts loading; never throws. */
  static fromEnv(env: NodeJS.ProcessEnv, logger: Logger, embeddingCacheSize = 4): SamModel {
    let paths: SamModelPaths | null = null;
    let configError: string | null = null;
    try {
      paths = samPathsFromEnv(env);
    } catch (err) {
      configError = (err as Error).message;
      logger.error({ error: configError }, "SAM configuration is incomplete");
    }
    if (!paths && !configError) logger.info(`SAM not configured (${SAM_ENV.encoder}, ${SAM_ENV.decoder} unset): classical detection only`);
    return new SamModel(paths, configError, logger, embeddingCacheSize);
  }

  get configured(): boolean {
    return this.paths !== null || this.loadError !== null;
  }

  get state(): SamModelState {
    if (this.segmenter) return "ready";
    if (this.loadError) return "failed";
    return this.paths ? "loading" : "not_configured";
  }

  /** Waits for the load; the segmenter, or a GentlyError saying why SAM cannot be used. */
  async get(): Promise<SamSegmenter> {
    await this.loading;
    if (this.segmenter) return this.segmenter;
    if (this.loadError) throw new GentlyError("unavailable", `SAM is configured but unusable: ${this.loadError}`);
    throw new GentlyError("unavailable", `SAM is not configured: set ${SAM_ENV.encoder} and ${SAM_ENV.decoder} to the model files`);
  }

  /** The loaded segmenter without waiting, for reporting. */
  current(): SamSegmenter | null {
    return this.segmenter;
  }

  report(): SamModelReport {
    const state = this.state;
    return {
      state,
      reason: this.reasonFor(state),
      error: this.loadError,
      encoder_path: this.paths?.encoderPath ?? null,
      decoder_path: this.paths?.decoderPath ?? null,
      execution_provider: this.segmenter ? this.segmenter.info().executionProvider : null,
    };
  }

  async dispose(): Promise<void> {
    await this.loading;
    await this.segmenter?.dispose();
    this.segmenter = null;
  }

  private reasonFor(state: SamModelState): string {
    switch (state) {
      case "ready":
        return "SAM encoder and decoder loaded on onnxruntime (CPU)";
      case "loading":
        return "loading the SAM model files";
      case "failed":
        return `SAM model files are configured but could not be loaded (detection asking for SAM is refused until fixed and restarted): ${this.loadError}`;
      case "not_configured":
        return `no SAM model files configured (${SAM_ENV.encoder}, ${SAM_ENV.decoder}): detection uses the classical stage alone`;
    }
  }
}
