import path from "node:path";
import { envValue } from "@gently/config";

/**
 * The configuration contract of every process. Each variable has a default
 * that works on one machine with the simulated microscope.
 */
export interface GentlyConfig {
  /** storage root: volumes/, derived/, index.sqlite, nats/ (embedded JetStream) */
  storage: string;
  /** NATS to use; when unset the supervisor starts an embedded nats-server */
  natsUrl?: string;
  /** port of the embedded nats-server */
  natsPort: number;
  /**
   * JetStream store of the embedded nats-server: GENTLY_JETSTREAM_DIR, else {storage}/nats. Put it
   * on another filesystem than the volumes so a full disk of images cannot starve JetStream.
   */
  jetstreamDir: string;
  /** viz server HTTP port */
  httpPort: number;
  /** microscope config file for the hardware service (sim JSON or MMCore .cfg) */
  configFile?: string;
  /** NATS user and password of this process (least-privilege accounts, see nats.conf) */
  natsUser?: string;
  natsPassword?: string;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): GentlyConfig {
  const storage = path.resolve(envValue("GENTLY_STORAGE", env));
  const jetstreamDir = envValue("GENTLY_JETSTREAM_DIR", env);
  return {
    storage,
    jetstreamDir: jetstreamDir ? path.resolve(jetstreamDir) : path.join(storage, "nats"),
    natsUrl: envValue("GENTLY_NATS_URL", env),
    natsPort: envValue("GENTLY_NATS_PORT", env),
    httpPort: envValue("GENTLY_HTTP_PORT", env),
    configFile: envValue("GENTLY_CONFIG", env),
    natsUser: envValue("GENTLY_NATS_USER", env),
    natsPassword: envValue("GENTLY_NATS_PASSWORD", env),
  };
}

/** The NATS URL a service connects to: the configured one, else the embedded server's. */
export function natsUrlOf(config: GentlyConfig): string {
  return config.natsUrl ?? `nats://127.0.0.1:${config.natsPort}`;
}
