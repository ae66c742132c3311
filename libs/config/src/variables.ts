import { z } from "zod";

/**
 * One environment variable: what it sets, its schema (applied to the raw
 * text once present and not blank) and its default, as shown by `gently
 * config` (a default that depends on other settings is described in words).
 */
export interface EnvVariable<T, F extends T | undefined = T | undefined> {
  description: string;
  schema: z.ZodType<T, string>;
  /** value when unset or blank; undefined: unset means "not configured" */
  fallback: F;
  /** how `gently config` describes a default computed elsewhere (e.g. from another variable) */
  fallbackText?: string;
  /** a secret: `gently config` shows only whether it is set */
  secret?: boolean;
}

function integer(min: number, max: number): z.ZodType<number, string> {
  return z
    .string()
    .trim()
    .regex(/^-?\d+$/, `must be a whole number ${min}-${max}`)
    .transform(Number)
    .pipe(z.number().min(min, `must be at least ${min} (whole number ${min}-${max})`).max(max, `must be at most ${max} (whole number ${min}-${max})`));
}

function oneOf<const T extends readonly [string, ...string[]]>(values: T): z.ZodType<T[number], string> {
  return z.string().trim().pipe(z.enum(values, { error: `must be one of ${values.join(", ")}` }));
}

const text: z.ZodType<string, string> = z.string().trim();
const list: z.ZodType<string[], string> = z
  .string()
  .transform((raw) => raw.split(",").map((item) => item.trim()).filter(Boolean));

type Extra = { fallbackText?: string; secret?: boolean };

function variable<T>(description: string, schema: z.ZodType<T, string>, fallback: T, extra?: Extra): EnvVariable<T, T>;
function variable<T>(description: string, schema: z.ZodType<T, string>, fallback?: undefined, extra?: Extra): EnvVariable<T, undefined>;
function variable<T>(description: string, schema: z.ZodType<T, string>, fallback?: T, extra: Extra = {}): EnvVariable<T> {
  return { description, schema, fallback, ...extra };
}

const HOUR_MS = 3_600_000;

/**
 * Every GENTLY_* variable a gently process reads. Code reads them through
 * readEnv/envValue only, so a bad value is refused the same way everywhere:
 * naming the variable, the value and the rule.
 */
export const ENV_VARIABLES = {
  GENTLY_STORAGE: variable("storage root: volumes/, derived/, index.sqlite, nats/, secrets/", text, "./storage"),
  GENTLY_NATS_URL: variable("NATS to connect to (comma-separated for a cluster); unset: the supervisor starts an embedded nats-server", text),
  GENTLY_NATS_PORT: variable("port of the embedded nats-server", integer(1, 65_535), 4222),
  GENTLY_NATS_SERVER: variable("the nats-server binary the supervisor runs", text, "nats-server"),
  GENTLY_NATS_USER: variable("NATS user of this process (its account in nats.conf)", text),
  GENTLY_NATS_PASSWORD: variable("NATS password of this process", text, undefined, { secret: true }),
  GENTLY_JETSTREAM_DIR: variable("JetStream store of the embedded nats-server (best on another filesystem than the volumes)", text, undefined, { fallbackText: "{storage}/nats" }),
  GENTLY_JS_REPLICAS: variable("replicas of each JetStream stream and KV bucket (a NATS cluster)", integer(1, 5), 1),
  GENTLY_SERVICES: variable("the services this host's supervisor runs, comma-separated", list, undefined, { fallbackText: "all" }),
  GENTLY_LOG_LEVEL: variable("pino log level", oneOf(["fatal", "error", "warn", "info", "debug", "trace", "silent"]), "info"),
  GENTLY_LOG_FORMAT: variable("how npm start writes: JSON lines or a summary for a person", oneOf(["json", "human"]), undefined, { fallbackText: "human on a terminal, else json" }),
  GENTLY_STOP_STDIN: variable("1: a child also stops on a 'stop' line or the end of its stdin (the supervisor on Windows)", oneOf(["0", "1"]), "0"),
  GENTLY_CONFIG: variable("microscope configuration for the hardware service (simulator JSON or MMCore .cfg)", text),
  GENTLY_CORE_LIBRARY: variable("the microscope core library (gently_core.h)", text, undefined, { fallbackText: "native/build/libgently_sim.so" }),
  GENTLY_CORE_CALL_TIMEOUT_MS: variable("deadline of one device call: a move, a wait, a preset (ms)", integer(100, HOUR_MS), 60_000),
  GENTLY_NATIVE_DIR: variable("folder of the native libraries", text, undefined, { fallbackText: "native/build (native/build/windows on Windows)" }),
  GENTLY_MM_ADAPTER_PATH: variable("Micro-Manager device adapter folder(s) for the MMCore shim", text),
  GENTLY_LIMITS: variable("JSON file narrowing or widening the stage limits", text),
  GENTLY_ROLES: variable("JSON file naming which device plays which role", text),
  GENTLY_RING_PATH: variable("shared-memory frame ring: a file on Linux, a mapping name on Windows", text, undefined, { fallbackText: "/dev/shm/gently-ring-<NATS port>" }),
  GENTLY_RING_SLOTS: variable("frame slots in the ring", integer(2, 4096), 16),
  GENTLY_RING_TIMEOUT_MS: variable("how long the hardware waits for the writer to free a ring slot (ms)", integer(100, HOUR_MS), 30_000),
  GENTLY_FRAME_TIMEOUT_MS: variable("how long a frame may be late beyond its exposure (ms)", integer(100, HOUR_MS), 10_000),
  GENTLY_WRITER_TIMEOUT_MS: variable("how long the writer has to answer an acquisition's begin (ms)", integer(100, 600_000), 10_000),
  GENTLY_WRITER_FRAME_TIMEOUT_MS: variable("the writer gives up on a volume whose next frame is this late (ms)", integer(1, HOUR_MS), 30_000),
  // Room JetStream needs to go on working on a disk the volumes have filled (new message blocks of the
  // streams and the lease bucket, their index files, the index.sqlite WAL), with a wide margin.
  GENTLY_WRITER_RESERVE_BYTES: variable("free space the writer keeps on the volumes' filesystem (bytes; 0: none)", integer(0, Number.MAX_SAFE_INTEGER), 256 * 1024 * 1024),
  GENTLY_WRITER_PROGRESS_FRAMES: variable("the writer reports progress every this many frames", integer(1, 1_000_000), 100),
  GENTLY_WRITER_STOP_GRACE_MS: variable("how long a stopping writer lets a volume finish (ms, at most 12000)", integer(1, 12_000), 8_000),
  GENTLY_STORAGE_QUOTA_BYTES: variable("most bytes volumes (and quarantined ones) may take", integer(1, Number.MAX_SAFE_INTEGER)),
  GENTLY_HTTP_PORT: variable("viewer HTTP port", integer(1, 65_535), 8080),
  GENTLY_HTTP_HOST: variable("interface the viewer listens on (beyond loopback it requires a token)", text, "127.0.0.1"),
  GENTLY_HTTP_TOKEN: variable("fixed viewer token (else one generated under {storage}/secrets)", text, undefined, { secret: true }),
  GENTLY_HTTP_ALLOWED_HOSTS: variable("further Host names the viewer accepts, comma-separated", list, []),
  GENTLY_SSE_MAX: variable("most SSE streams the viewer serves at once", integer(1, 100_000), 32),
  GENTLY_API_PORT: variable("HTTP API port for the copilot (0: any free port)", integer(0, 65_535), 60_610),
  GENTLY_API_HOST: variable("interface the HTTP API listens on", text, "127.0.0.1"),
  GENTLY_API_TOKEN: variable("fixed HTTP API token (else one generated under {storage}/secrets)", text, undefined, { secret: true }),
  GENTLY_API_ALLOWED_HOSTS: variable("further Host names the HTTP API accepts, comma-separated", list, []),
  GENTLY_PLAN_QUEUE_MAX: variable("most runs the plan runner's queue holds", integer(1, 100_000), 100),
  GENTLY_PLAN_READERS_MAX: variable("most read-only runs at once", integer(1, 100_000), 16),
  GENTLY_SAM_ENCODER: variable("Segment Anything encoder model (ONNX); with GENTLY_SAM_DECODER", text),
  GENTLY_SAM_DECODER: variable("Segment Anything decoder model (ONNX); with GENTLY_SAM_ENCODER", text),
  GENTLY_CLI_SILENCE_NOTICE_S: variable("the CLI following a run says so after this many silent seconds", integer(1, 86_400), 60),
} as const;

export type EnvName = keyof typeof ENV_VARIABLES;
/** The value a variable reads as: its type, or undefined too when it has no default. */
export type EnvValue<N extends EnvName> = (typeof ENV_VARIABLES)[N]["fallback"] extends undefined
  ? z.output<(typeof ENV_VARIABLES)[N]["schema"]> | undefined
  : z.output<(typeof ENV_VARIABLES)[N]["schema"]>;
