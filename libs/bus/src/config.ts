import path from "node:path";

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

function intFromEnv(name: string, fallback: number, env: NodeJS.ProcessEnv): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 65_535) {
    throw new Error(`${name} must be a port number 1-65535, got '${raw}'`);
  }
  return value;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): GentlyConfig {
  const natsPort = intFromEnv("GENTLY_NATS_PORT", 4222, env);
  const storage = path.resolve(env.GENTLY_STORAGE || "./storage");
  return {
    storage,
    jetstreamDir: env.GENTLY_JETSTREAM_DIR ? path.resolve(env.GENTLY_JETSTREAM_DIR) : path.join(storage, "nats"),
    natsUrl: env.GENTLY_NATS_URL || undefined,
    natsPort,
    httpPort: intFromEnv("GENTLY_HTTP_PORT", 8080, env),
    configFile: env.GENTLY_CONFIG || undefined,
    natsUser: env.GENTLY_NATS_USER || undefined,
    natsPassword: env.GENTLY_NATS_PASSWORD || undefined,
  };
}

/** The NATS URL a service connects to: the configured one, else the embedded server's. */
export function natsUrlOf(config: GentlyConfig): string {
  return config.natsUrl ?? `nats://127.0.0.1:${config.natsPort}`;
}
