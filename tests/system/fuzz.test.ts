import { randomInt } from "node:crypto";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import type { Msg, NatsConnection } from "@nats-io/transport-node";
import { call, decodeJson } from "@gently/bus";
import { connect, systemStatus, type GentlyClient } from "@gently/client";
import * as protocol from "@gently/protocol";
import { datastore, ERROR_CODES, ErrorBody, frameSink, hw, isPlanName, newUid, plan, PLAN_NAMES, PLANS, sam, SERVICE_NAMES, viz, type EndpointContract, type HwState, type NatsUser } from "@gently/protocol";
import { REPO_ROOT } from "@gently/supervisor";
import { isAlive, startTestSystem, type TestSystem } from "@gently/testing";
import { fuzzBody, Raw, Rng, toJsonText, type FuzzBody, type JsonSchema } from "./fuzz-bodies";
import { callerOf } from "./nats-permissions";
import { rawHttp, type RawResponse } from "./raw-http";

/** Bodies per request subject (about 30 subjects: several thousand in all). */
const BODIES_PER_SUBJECT = 200;
/** Requests in flight at once: enough to load every service, few enough for a 2-core machine. */
const CONCURRENCY = 16;
const REQUEST_TIMEOUT_MS = 15_000;
const RANDOM_HTTP_REQUESTS = 1000;

const SEED = process.env.GENTLY_FUZZ_SEED ? Number(process.env.GENTLY_FUZZ_SEED) : randomInt(2 ** 31);
console.log(`fuzz seed ${SEED} (replay with GENTLY_FUZZ_SEED=${SEED})`);

/** Light-sheet cameras read a 256×128 ROI so the acquisitions around the fuzzing take a moment. */
const ROI = { x: 896, y: 960, width: 256, height: 128 };
const SMALL_VOLUME = { num_slices: 8, exposure_ms: 2, piezo_amplitude_um: 5 };

/**
 * Every request/reply contract the protocol exports, found by shape, so a new
 * endpoint is fuzzed without anyone listing it here.
 */
function endpointContracts(): EndpointContract[] {
  const isContract = (v: unknown): v is EndpointContract =>
    !!v &&
    typeof v === "object" &&
    typeof (v as EndpointContract).subject === "string" &&
    typeof (v as EndpointContract).name === "string" &&
    (v as EndpointContract).request instanceof z.ZodType &&
    (v as EndpointContract).reply instanceof z.ZodType;
  const bySubject = new Map<string, EndpointContract>();
  for (const group of Object.values(protocol)) {
    if (!group || typeof group !== "object") continue;
    for (const candidate of Object.values(group)) if (isContract(candidate)) bySubject.set(candidate.subject, candidate);
  }
  return [...bySubject.values()];
}

/**
 * Endpoints whose valid requests only read, or name something that does not
 * exist (an unknown run or acquisition): random bodies that happen to be valid
 * may go there. Anything else (a new endpoint included) only gets bodies its
 * schema refuses, plus the hand-written refusals below, so no fuzz body can
 * move the stage, switch a laser or start an acquisition.
 */
const HARMLESS_WHEN_VALID = new Set<string>(
  [
    hw.state,
    hw.keepalive,
    hw.stopSequence,
    plan.tools,
    plan.pause,
    plan.resume,
    plan.abort,
    plan.stop,
    plan.queue,
    plan.queueMove,
    plan.queueRemove,
    plan.history,
    plan.status,
    datastore.get,
    datastore.list,
    datastore.lineage,
    datastore.children,
    datastore.sessions,
    sam.detect,
    sam.status,
    viz.status,
  ].map((c) => c.subject),
);
/** Plans that read and never move or illuminate: a valid submit of one may run. */
const READ_ONLY_PLANS = new Set(["get_position", "get_illumination", "status", "detect_embryos"]);

function mayAct(contract: EndpointContract, parsed: unknown): boolean {
  if (contract.subject === plan.submit.subject) {
    const { plan: name, params } = parsed as { plan: string; params: unknown };
    return isPlanName(name) && !READ_ONLY_PLANS.has(name) && PLANS[name].params.safeParse(params).success;
  }
  return !HARMLESS_WHEN_VALID.has(contract.subject);
}

const jsonSchemaOf = (schema: z.ZodType) => z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as JsonSchema;

/**
 * The JSON Schema bodies are generated from. A submit's params are an open
 * record in its contract; here they follow the named plan's own schema, so
 * the fuzz reaches the plan runner's per-plan validation (and runs the
 * read-only plans) instead of stopping at unknown_plan.
 */
function fuzzSchemaOf(contract: EndpointContract): JsonSchema {
  const schema = jsonSchemaOf(contract.request);
  if (contract.subject !== plan.submit.subject) return schema;
  const perPlan = PLAN_NAMES.map((name) => ({
    ...schema,
    properties: { ...schema.properties, plan: { const: name }, params: jsonSchemaOf(PLANS[name].params) },
  }));
  return { anyOf: [...perPlan, schema] };
}

/** The concrete subject a request goes to: wildcard tokens (the writer's gently.frames.*.begin) become an id. */
function concreteSubject(contract: EndpointContract, token: string): string {
  return contract.subject
    .split(".")
    .map((t) => (t === "*" || t === ">" ? token : t))
    .join(".");
}

interface Job {
  contract: EndpointContract;
  subject: string;
  label: string;
  /** a fuzz body is made from its seed just before it is sent (the big ones never all sit in memory) */
  seed?: number;
  schema?: JsonSchema;
  index?: number;
  /** a hand-written body */
  data?: Uint8Array;
  /** hand-written: schema-valid, and must be refused */
  mustRefuse: boolean;
}

/**
 * The body of a fuzz job, the same for the same seed. A body that would be
 * valid for an endpoint that acts is replaced by another (bad input only);
 * null when none could be found.
 */
function bodyOf(job: Job, knownUids: string[], tally: Tally): FuzzBody | null {
  if (job.data) return { kind: "hand-written", data: job.data };
  const rng = new Rng(job.seed!);
  for (let attempt = 0; attempt < 50; attempt++) {
    const body = fuzzBody(job.schema!, rng.int(2 ** 31), job.index!, knownUids);
    const { schemaValid, parsed } = expectation(job.contract, body.data);
    if (!schemaValid || !mayAct(job.contract, parsed)) return body;
    tally.regenerated += 1;
  }
  return null;
}

interface Tally {
  sent: number;
  invalid_request: number;
  other_errors: Record<string, number>;
  valid_replies: number;
  refused_at_publish: number;
  regenerated: number;
}

/** What the fuzzer saw, per subject. */
const tallies = new Map<string, Tally>();
function tallyOf(subject: string): Tally {
  let t = tallies.get(subject);
  if (!t) tallies.set(subject, (t = { sent: 0, invalid_request: 0, other_errors: {}, valid_replies: 0, refused_at_publish: 0, regenerated: 0 }));
  return t;
}

/**
 * Schema-valid requests that must be refused before anything moves, lights
 * up or is written: targets far outside every limit, unknown plans, files
 * outside the storage root or behind a symlink, rings that are not rings.
 */
function mustRefuseJobs(system: TestSystem, symlinkToPasswd: string): Job[] {
  const owner = () => ({ acq_id: newUid(), volume_uid: newUid(), session_id: "fuzz" });
  const hwBodies: [EndpointContract, unknown][] = [
    [hw.move, { axis: "xy", x_um: 1e308, y_um: 0 }],
    [hw.move, { axis: "xy", x_um: -1e308, y_um: -1e308 }],
    [hw.move, { axis: "xy", x_um: 2 ** 53 + 1, y_um: 0 }],
    [hw.move, { axis: "xy", x_um: 1500, y_um: 2 ** 53 + 1 }],
    [hw.move, { axis: "z", z_um: 1e308 }],
    [hw.move, { axis: "z", z_um: -1 }],
    [hw.move, { axis: "fdrive", f_um: -1e308 }],
    [hw.move, { axis: "piezo", piezo_um: 2 ** 53 + 1 }],
    [hw.move, { axis: "piezo", piezo_um: -201 }],
    [hw.move, { axis: "galvo", galvo_deg: 1e308 }],
    [hw.move, { axis: "galvo", galvo_deg: -5.5 }],
    [hw.setCamera, { camera: "HamCam1", exposure_ms: 1e308 }],
    [hw.setCamera, { camera: "HamCam1", exposure_ms: 2 ** 53 + 1 }],
    [hw.setCamera, { camera: "HamCam2", exposure_ms: 5e-324 }],
    [hw.setCamera, { camera: "HamCam1", roi: { x: 2 ** 40, y: 0, width: 16, height: 16 } }],
    [hw.setCamera, { camera: "HamCam1", roi: { x: 0, y: 0, width: 1e9, height: 1e9 } }],
    [hw.setCamera, { camera: "Bottom PCO", roi: { x: 2047, y: 2047, width: 2, height: 2 } }],
    [hw.snap, { ...owner(), camera: "HamCam1", exposure_ms: 1e308 }],
    [hw.snap, { ...owner(), camera: "Bottom PCO", exposure_ms: 2 ** 53 + 1, led: "Open" }],
    [hw.startSequence, { ...owner(), cameras: ["HamCam1"], num_slices: 2 ** 31, exposure_ms: 2, laser_config: "488 only" }],
    [hw.startSequence, { ...owner(), cameras: ["HamCam1"], num_slices: 1e9, exposure_ms: 2, laser_config: "ALL ON" }],
    [hw.startSequence, { ...owner(), cameras: ["HamCam1", "HamCam2"], num_slices: 10, exposure_ms: 1e308, laser_config: "ALL ON" }],
    [hw.startSequence, { ...owner(), cameras: ["HamCam1"], num_slices: 10, exposure_ms: 2, laser_config: "488 only", sweep: { piezo_start_um: 1e308, piezo_step_um: 0, galvo_start_deg: 0, galvo_step_deg: 0 } }],
    [hw.startSequence, { ...owner(), cameras: ["HamCam1"], num_slices: 10, exposure_ms: 2, laser_config: "488 only", sweep: { piezo_start_um: 0, piezo_step_um: 1e307, galvo_start_deg: 0, galvo_step_deg: 0 } }],
    [hw.startSequence, { ...owner(), cameras: ["HamCam1"], num_slices: 2000, exposure_ms: 2, laser_config: "488 only", sweep: { piezo_start_um: 0, piezo_step_um: 0, galvo_start_deg: 0, galvo_step_deg: -1e-2 } }],
  ];
  const submits: unknown[] = [
    { plan: "move_stage", params: { x_um: 1e308, y_um: 0 } },
    { plan: "move_stage", params: { x_um: 2 ** 53 + 1, y_um: -(2 ** 53 + 1) } },
    { plan: "acquire_volume", params: { piezo_center_um: 1e308 } },
    { plan: "acquire_volume", params: { piezo_center_um: -1e308, num_slices: 10_000 } },
    { plan: "timelapse_volume", params: { num_timepoints: 100_000, interval_s: 0, num_slices: 10_000, galvo_center_deg: 89 } },
    { plan: "focus_sweep", params: { galvo_positions_deg: [1e308, 0] } },
    { plan: "focus_sweep", params: { galvo_positions_deg: [0, 1], piezo_um: 2 ** 53 + 1 } },
    { plan: "calibrate_piezo_galvo", params: { piezo_positions_um: [1e308, 0] } },
    { plan: "snap_lightsheet", params: { piezo_um: -1e308, galvo_deg: 0 } },
    ...["rm -rf /", "__proto__", "constructor", "toString", "hasOwnProperty", "MOVE_STAGE", "move_stage ", "../../etc/passwd", "%2e%2e/", "acquire_volume\u0000"].map((name) => ({
      plan: name,
      params: { x_um: 1500, y_um: 0 },
    })),
  ];
  const register = (p: string, bytes: number) => ({ uid: newUid(), path: p, data_type: "image", bytes });
  const passwdBytes = readFileSync("/etc/passwd").length;
  const registers: unknown[] = [
    register("/etc/passwd", passwdBytes),
    register("../../../../../../etc/passwd", passwdBytes),
    register(symlinkToPasswd, passwdBytes),
    register(path.relative(system.storage, symlinkToPasswd), passwdBytes),
    register("volumes/%2e%2e/%2e%2e/etc/passwd", passwdBytes),
    register("volumes/does-not-exist.tif", 0),
    register("C:\\x", 0),
    { ...register("/etc/passwd", passwdBytes), metadata: { deep: new Raw("[".repeat(50_000) + "]".repeat(50_000)) } },
  ];
  const ringPath = system.env.GENTLY_RING_PATH!;
  const begin = (acq: string, overrides: Record<string, unknown>) => ({
    acq_id: acq,
    volume_uid: newUid(),
    session_id: "fuzz",
    ring_path: ringPath,
    cameras: ["HamCam1"],
    num_slices: 1,
    width: 256,
    height: 128,
    dtype: "uint16",
    pixel_size_um: 0.1625,
    z_step_um: 0,
    exposure_ms: 2,
    position: { x_um: 1500, y_um: 0 },
    started: new Date().toISOString(),
    ...overrides,
  });
  const begins = [
    { ring_path: "/etc/passwd" },
    { ring_path: "../../../../etc/passwd" },
    { ring_path: "/dev/zero" },
    { ring_path: path.join(system.storage, "no-such-ring") },
    { ring_path: system.storage },
    { width: 16_384, height: 16_384 },
    { num_slices: 100_000, width: 16_384, height: 16_384, dtype: "uint16", cameras: ["HamCam1", "HamCam2"] },
    // frames that fit a slot, but 1.6 TB of them: no disk holds that
    { num_slices: 100_000, width: 2048, height: 2048, cameras: ["HamCam1", "HamCam2"] },
  ].map((o) => {
    const acq = newUid();
    return { subject: protocol.subjects.frames.begin(acq), body: begin(acq, o) };
  });
  const mismatched = newUid();
  begins.push({ subject: protocol.subjects.frames.begin(mismatched), body: begin(newUid(), {}) });

  const jobs: Job[] = [
    ...hwBodies.map(([contract, body]) => ({ contract, subject: contract.subject, body })),
    ...submits.map((body) => ({ contract: plan.submit as EndpointContract, subject: plan.submit.subject, body })),
    ...registers.map((body) => ({ contract: datastore.register as EndpointContract, subject: datastore.register.subject, body })),
    ...begins.map(({ subject, body }) => ({ contract: frameSink.begin as EndpointContract, subject, body })),
  ].map(({ contract, subject, body }, i) => handWritten(contract, subject, body, `must-refuse #${i}`, true));
  return jobs;
}

/** Valid requests at the edges of their schemas, on endpoints that only read or compute: an answer or a clean refusal, never a crash. */
function edgeJobs(volumeUid: string): Job[] {
  const edges: [EndpointContract, unknown][] = [
    [sam.detect, { image_uid: volumeUid, options: { channel: 2 ** 31 } }],
    [sam.detect, { image_uid: volumeUid, options: { min_area_um2: 1e308 } }],
    [sam.detect, { image_uid: volumeUid, options: { max_area_um2: 5e-324 } }],
    [sam.detect, { image_uid: volumeUid, options: { min_area_um2: 5e-324, max_area_um2: 1e308, box_padding_px: 512, polarity: "dark", exclude_border: true } }],
    [sam.detect, { image_uid: volumeUid, options: { method: "sam" } }],
    [datastore.list, { limit: 1000, offset: 2 ** 53 - 1 }],
    [datastore.list, { since: "9999-12-31T23:59:59Z", until: "0000-01-01T00:00:00Z" }],
    [datastore.lineage, { uid: volumeUid }],
    [plan.history, { limit: 10_000, session_id: "a".repeat(64) }],
    [plan.queueMove, { run_uid: newUid(), position: 2 ** 53 - 1 }],
    [hw.stopSequence, { reason: "x".repeat(500) }],
    [plan.submit, { plan: "detect_embryos", params: { image_uid: volumeUid }, session_id: "a".repeat(64) }],
  ];
  return edges.map(([contract, body], i) => handWritten(contract, contract.subject, body, `edge #${i}`, false));
}

function handWritten(contract: EndpointContract, subject: string, body: unknown, label: string, mustRefuse: boolean): Job {
  const data = new TextEncoder().encode(toJsonText(body));
  const parsed = contract.request.safeParse(decodeJson(data));
  if (!parsed.success) throw new Error(`hand-written ${label} on ${subject} does not pass its schema: ${parsed.error.message}`);
  return { contract, subject, label, data, mustRefuse };
}

/** What the service should answer: invalid_request when the body is not JSON or fails its schema. */
function expectation(contract: EndpointContract, data: Uint8Array): { schemaValid: boolean; parsed?: unknown } {
  let value: unknown;
  try {
    value = decodeJson(data);
  } catch {
    return { schemaValid: false };
  }
  const parsed = contract.request.safeParse(value);
  return parsed.success ? { schemaValid: true, parsed: parsed.data } : { schemaValid: false };
}

/** Checks one reply; returns what is wrong with it, or null. */
function judge(job: Job, schemaValid: boolean, reply: Msg, tally: Tally): string | null {
  const header = reply.headers?.get("Nats-Service-Error-Code");
  let body: unknown;
  try {
    body = decodeJson(reply.data);
  } catch {
    return `reply is not JSON: ${JSON.stringify(new TextDecoder().decode(reply.data.subarray(0, 200)))}`;
  }
  const error = ErrorBody.safeParse(body);
  if (header || error.success) {
    if (!header) return `error body without the Nats-Service-Error-Code header: ${JSON.stringify(body).slice(0, 300)}`;
    if (!error.success) return `error header ${header} without a structured {error: {code, message}} body: ${JSON.stringify(body).slice(0, 300)}`;
    const { code, message } = error.data.error;
    if (!(code in ERROR_CODES)) return `unknown error code ${code}`;
    if (header !== String(ERROR_CODES[code as keyof typeof ERROR_CODES])) return `header code ${header} does not match ${code}`;
    if (code === "internal") return `internal error (a crash inside the handler): ${message}`;
    if (!message.trim()) return `empty error message for ${code}`;
    if (!schemaValid && code !== "invalid_request") return `a body its schema refuses got ${code} instead of invalid_request: ${message}`;
    if (code === "invalid_request") tally.invalid_request += 1;
    else tally.other_errors[code] = (tally.other_errors[code] ?? 0) + 1;
    return null;
  }
  if (!schemaValid) return `a body its schema refuses was answered as valid: ${JSON.stringify(body).slice(0, 300)}`;
  if (job.mustRefuse) return `accepted a request that must be refused: ${JSON.stringify(body).slice(0, 300)}`;
  const valid = job.contract.reply.safeParse(body);
  if (!valid.success) return `reply does not match the contract's reply schema: ${valid.error.message.slice(0, 300)}`;
  tally.valid_replies += 1;
  return null;
}

/** Runs the jobs with bounded concurrency; returns every problem found. */
async function runJobs(jobs: Job[], connections: Map<NatsUser, NatsConnection>, callers: Map<string, NatsUser>, knownUids: string[]): Promise<string[]> {
  const problems: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const job = jobs[next++]!;
      const nc = connections.get(callers.get(job.contract.subject)!)!;
      const tally = tallyOf(job.contract.subject);
      const body = bodyOf(job, knownUids, tally);
      if (!body) continue;
      const where = `${job.subject} ${job.label} ${body.kind} (${body.data.length} bytes)`;
      const { schemaValid } = expectation(job.contract, body.data);
      tally.sent += 1;
      let reply: Msg;
      try {
        reply = await nc.request(job.subject, body.data, { timeout: REQUEST_TIMEOUT_MS });
      } catch (err) {
        const text = String((err as Error)?.message ?? err);
        const maxPayload = nc.info?.max_payload ?? 8 * 1024 * 1024;
        if (body.data.length > maxPayload && /max_payload/i.test(text)) {
          tally.refused_at_publish += 1;
        } else {
          problems.push(`${where}: no reply (${(err as Error)?.name}: ${text})`);
        }
        continue;
      }
      const problem = judge(job, schemaValid, reply, tally);
      if (problem) problems.push(`${where}: ${problem}`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return problems;
}

function printTallies(): void {
  const head = ["subject", "sent", "invalid_request", "other errors", "valid", "publish refused", "regenerated"];
  const rows = [...tallies.entries()].map(([subject, t]) => [
    subject,
    String(t.sent),
    String(t.invalid_request),
    Object.entries(t.other_errors).map(([c, n]) => `${c}:${n}`).join(" ") || "-",
    String(t.valid_replies),
    String(t.refused_at_publish),
    String(t.regenerated),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ");
  console.log(["", `bad-input suite, seed ${SEED}`, line(head), ...rows.map(line), ""].join("\n"));
}

describe("bad input: every request subject and the HTTP API refuse it cleanly, and nothing crashes or moves", () => {
  let system: TestSystem;
  let client: GentlyClient;
  let planRunner: NatsConnection;
  const connections = new Map<NatsUser, NatsConnection>();
  let volumeUid: string;
  let pidsBefore: Record<string, number>;
  let stateBefore: HwState;
  /** content that must never come back over HTTP */
  let secrets: string[];

  beforeAll(async () => {
    system = await startTestSystem();
    planRunner = await system.connectAs("plan-runner");
    for (const camera of ["HamCam1", "HamCam2"] as const) await call(planRunner, hw.setCamera, { camera, roi: ROI });
    client = await connect({ url: system.nats.url, user: "copilot", pass: system.credentials.copilot, storage: system.storage, timeoutMs: 20_000 });
    // one real volume, so some fuzz bodies and HTTP requests name a uid that exists
    const first = await (await client.submit("acquire_volume", SMALL_VOLUME, { session_id: "fuzz-setup" })).done();
    expect(first.status, first.reason).toBe("success");
    volumeUid = first.volume_uids[0]!;
    pidsBefore = Object.fromEntries(SERVICE_NAMES.map((s) => [s, system.pidOf(s)]));
    stateBefore = await call(planRunner, hw.state, {});
    const sentinel = `gently-fuzz-sentinel-${newUid()}`;
    writeFileSync(path.join(system.storage, "sentinel.tif"), sentinel);
    secrets = [
      sentinel,
      readFileSync("/etc/passwd", "utf8").split("\n")[0]!,
      ...Object.values(system.credentials),
      JSON.parse(readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")).description as string,
    ];
  }, 120_000);

  afterAll(async () => {
    printTallies();
    for (const nc of connections.values()) await nc.close();
    await client?.close();
    await planRunner?.close();
    await system?.stop();
  });

  it("answers thousands of random and malformed bodies on every request subject with a structured error (or a valid reply), never a timeout", async () => {
    const contracts = endpointContracts();
    const callers = new Map<string, NatsUser>();
    const unreachable: string[] = [];
    for (const c of contracts) {
      const caller = callerOf(concreteSubject(c, newUid()));
      if (caller) callers.set(c.subject, caller);
      else unreachable.push(c.subject);
    }
    if (unreachable.length) console.log(`nats.conf lets no account call: ${unreachable.join(", ")} (not fuzzed)`);
    // the contracts the brief names are all found and callable
    for (const c of [hw.move, hw.startSequence, plan.submit, datastore.register, sam.detect, frameSink.begin]) expect(callers.has(c.subject), c.subject).toBe(true);
    for (const user of new Set(callers.values())) connections.set(user, await system.connectAs(user));

    const derivedDir = path.join(system.storage, "derived");
    mkdirSync(derivedDir, { recursive: true });
    const symlinkToPasswd = path.join(derivedDir, "passwd-link.json");
    symlinkSync("/etc/passwd", symlinkToPasswd);

    const rng = new Rng(SEED);
    const jobs: Job[] = [];
    for (const contract of contracts.filter((c) => callers.has(c.subject))) {
      const schema = fuzzSchemaOf(contract);
      for (let index = 0; index < BODIES_PER_SUBJECT; index++) {
        const token = rng.chance(0.8) ? newUid() : rng.pick(["x", "%2e%2e", "_", "0"]);
        jobs.push({ contract, subject: concreteSubject(contract, token), label: `#${index}`, seed: rng.int(2 ** 31), schema, index, mustRefuse: false });
      }
    }
    jobs.push(...mustRefuseJobs(system, symlinkToPasswd), ...edgeJobs(volumeUid));
    rng.shuffle(jobs);

    const problems = await runJobs(jobs, connections, callers, [volumeUid]);
    expect(problems.slice(0, 25), `${problems.length} problems (seed ${SEED})`).toEqual([]);
    expect(jobs.length).toBeGreaterThan(3000);
    // every 10 MB body was refused by the client before it reached NATS, and nothing else was
    const tallied = [...tallies.values()];
    expect(tallied.reduce((n, t) => n + t.refused_at_publish, 0)).toBe(callers.size);
  }, 180_000);

  it("refuses path traversal, oversize and malformed HTTP requests with a JSON 400/404, never a 500 or a file outside storage", async () => {
    const port = system.httpPort;
    const unknownUid = newUid();
    const problems: string[] = [];
    /** Checks one answer; `strict` requests (traversal) must be exactly 400 or 404. */
    const check = (what: string, res: RawResponse, strict: boolean, head: boolean) => {
      const text = res.body.toString("latin1");
      for (const secret of secrets) if (text.includes(secret)) problems.push(`${what}: served content from outside storage (${secret.slice(0, 30)}…)`);
      if (res.status >= 500 || res.status < 100) problems.push(`${what}: status ${res.status}`);
      if (strict && res.status !== 400 && res.status !== 404) problems.push(`${what}: status ${res.status}, expected 400 or 404`);
      if (res.status >= 400 && res.status < 500 && !head) {
        const json = (() => {
          try {
            return ErrorBody.safeParse(JSON.parse(res.body.toString("utf8")));
          } catch {
            return null;
          }
        })();
        if (!json?.success) problems.push(`${what}: ${res.status} without a JSON {error} body: ${JSON.stringify(text.slice(0, 200))}`);
      }
      if (res.status >= 400 && res.status < 500) {
        if (!/application\/json/.test(res.headers["content-type"] ?? "")) problems.push(`${what}: ${res.status} with content-type ${res.headers["content-type"]}`);
      }
    };
    const get = async (target: string, strict: boolean, opts: Parameters<typeof rawHttp>[2] = {}) => {
      const what = `${opts.method ?? "GET"} ${target.slice(0, 160)}${target.length > 160 ? `… (${target.length} chars)` : ""}`;
      try {
        check(what, await rawHttp(port, target, opts), strict, opts.method === "HEAD");
      } catch (err) {
        problems.push(`${what}: ${String(err)}`);
      }
    };

    const traversals = [
      "/api/images/..%2F..%2Fetc%2Fpasswd/raw",
      "/api/images/..%2F..%2Fetc%2Fpasswd",
      "/api/images/%2e%2e/raw",
      "/api/images/%2E%2E%2F%2E%2E%2Fsecrets%2Fnats-users.json/raw",
      "/api/images/%252e%252e%252fetc%252fpasswd/raw",
      "/api/images/..%252F..%252Fsentinel/raw",
      "/api/images/..%2Fsentinel/raw",
      "/api/images/..%5C..%5Cetc%5Cpasswd/raw",
      `/api/images/${volumeUid}%2F..%2F..%2Fsecrets%2Fnats-users.json/raw`,
      `/api/images/${volumeUid}%2F..%2F..%2Fsentinel/raw`,
      "/api/images/%00/raw",
      "/api/images/%zz/raw",
      "/api/images/C:%5Cx/raw",
      "/api/images/aaaaaaaaaa%2Fbbbbbbbbbb/raw",
      "/api/images/%2Fetc%2Fpasswd/mip.png",
      `/api/images/..%2F..%2F${volumeUid}/slice/0.png`,
      `/api/images/${volumeUid}/slice/..%2F..%2F..%2Fetc%2Fpasswd.png`,
      "/api/detections/..%2F..%2Fetc%2Fpasswd",
      "/api/runs/..%2F..%2Fsecrets%2Fnats-users.json",
      "/..%2f..%2fetc/passwd",
      "/../../etc/passwd",
      "/%2e%2e/%2e%2e/etc/passwd",
      "/%252e%252e/%252e%252e/etc/passwd",
      "/index.html/../../package.json",
      "/..%2f..%2f..%2fpackage.json",
      "/public/../../package.json",
      "/secrets/nats-users.json",
      "/sentinel.tif",
      `/api/images/${unknownUid}`,
      `/api/images/${unknownUid}/raw`,
      `/api/images/${unknownUid}/mip.png`,
      `/api/images/${unknownUid}/slice/0.png`,
      `/api/detections/${unknownUid}`,
      `/api/runs/${unknownUid}`,
      `/api/images/${volumeUid}/slice/-1.png`,
      `/api/images/${volumeUid}/slice/99999999999999999999.png`,
      `/api/images/${volumeUid}/slice/1e3.png`,
      `/api/images/${volumeUid}/slice/0.png?min=1e400`,
      `/api/images/${volumeUid}/slice/0.png?min=1&max=1e308`,
      `/api/images/${volumeUid}/slice/0.png?min=5&max=1`,
      `/api/images/${volumeUid}/slice/0.png?bin=0`,
      `/api/images/${volumeUid}/slice/0.png?bin=9`,
      `/api/images/${volumeUid}/slice/0.png?c=-1`,
      `/api/images/${volumeUid}/slice/0.png?c=NaN`,
      `/api/images/${volumeUid}/slice/0.png?bin=2&bin=2`,
      `/api/images/${volumeUid}/mip.png?unknown=1`,
      `/api/images/${volumeUid}/mip.png?c=99`,
      `/api/volumes?limit=1e400`,
      `/api/volumes?limit=-1`,
      `/api/volumes?since=not-a-date`,
      `/api/volumes?session=..%2F..%2Fetc`,
      `/api/volumes?session=${"a".repeat(10_000)}`,
      `/api/events?x=1`,
    ];
    for (const target of traversals) await get(target, true);

    // beyond Node's 16 KB header limit, and just under it
    await get(`/api/volumes?session=${"a".repeat(100_000)}`, true);
    await get(`/api/images/${volumeUid}/slice/0.png?min=${"9".repeat(12_000)}`, true);
    for (const range of ["bytes=999999999999999-", "bytes=-0", "bytes=5-1", "bytes=0-1,2-3", "bytes=abc", "bytes=-99999999999999999999", "items=0-1"]) {
      await get(`/api/images/${volumeUid}/raw`, false, { headers: { Range: range } });
    }
    for (const method of ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"]) await get(`/api/images/${volumeUid}/raw`, false, { method });
    for (const id of ["../../etc/passwd", "1-1", "99999999999999999999-0", "-1-0", "1e400-0", "0x10-0", "NaN-NaN", "1-2-3", "", "a".repeat(2000)]) {
      await get("/api/events", false, { headers: { "Last-Event-ID": id }, streaming: true });
    }

    const rng = new Rng(SEED ^ 0x5bd1e995);
    const segments = [volumeUid, unknownUid, "..", "%2e%2e", "..%2F", "%2F", "%00", "%zz", "%", "%ff%fe", "😀", "%F0%9F%98%80", "a".repeat(3000), "0", "-1", "1e400", "NaN", "raw", "mip.png", "slice", "etc", "passwd", "secrets", "%5C", ".", ""];
    const queries = ["", "?", "?min=1e400", "?bin=0", "?c=-1&c=1", "?limit=0", "?session=%00", "?since=9999-99-99", `?x=${"y".repeat(1500)}`, "?min=&max=", "?%zz=1", "?bin=1.5"];
    for (let i = 0; i < RANDOM_HTTP_REQUESTS; i++) {
      const base = rng.pick(["/api/images/", "/api/images/", "/api/detections/", "/api/runs/", "/api/volumes/", "/", "/api/"]);
      const parts = Array.from({ length: 1 + rng.int(3) }, () => rng.pick(segments));
      const tail = rng.pick(["", "/raw", "/mip.png", "/slice/0.png", `/slice/${rng.pick(segments)}.png`]);
      await get(`${base}${parts.join("/")}${tail}${rng.pick(queries)}`, false, { method: rng.pick(["GET", "GET", "GET", "HEAD"]), maxBytes: 1024 * 1024 });
    }
    expect(problems.slice(0, 25), `${problems.length} problems (seed ${SEED})`).toEqual([]);

    // and it still serves
    const health = await rawHttp(port, "/healthz");
    expect(health.status).toBe(200);
    const meta = await rawHttp(port, `/api/images/${volumeUid}`);
    expect(meta.status).toBe(200);
    expect(JSON.parse(meta.body.toString()).uid).toBe(volumeUid);
    const slice = await rawHttp(port, `/api/images/${volumeUid}/slice/0.png`);
    expect(slice.status).toBe(200);
    expect(slice.headers["content-type"]).toBe("image/png");
  }, 120_000);

  it("survives it all: no service crashed, the hardware never moved, every service answers, and a real acquisition still completes with lasers off", async () => {
    expect(system.supervisor.lines.filter((l) => l.includes("child exited")), "child exited lines").toEqual([]);
    for (const service of SERVICE_NAMES) {
      expect(system.pidOf(service), `${service} pid`).toBe(pidsBefore[service]);
      expect(isAlive(pidsBefore[service]!), `${service} alive`).toBe(true);
    }
    const internal = system.supervisor.lines.filter((l) => /request failed unexpectedly|uncaught exception|unhandled rejection/.test(l));
    expect(internal.slice(0, 5), "unexpected failures in the service logs").toEqual([]);

    const state = await call(planRunner, hw.state, {});
    expect(state.position, "no bad input moved anything").toEqual(stateBefore.position);
    expect(state.cameras).toEqual(stateBefore.cameras);
    expect(state.laser).toBe("ALL OFF");
    expect(state.led).toBe(stateBefore.led);
    expect(state.acquisition).toBeNull();

    const copilot = connections.get("copilot") ?? (await system.connectAs("copilot"));
    const status = await systemStatus(copilot);
    expect(status.services.filter((s) => !s.up).map((s) => s.service), "services not answering $SRV").toEqual([]);

    const result = await (await client.submit("acquire_volume", SMALL_VOLUME, { session_id: "fuzz-after" })).done();
    expect(result.status, result.reason).toBe("success");
    expect(result.volumes[0]?.shape).toEqual([SMALL_VOLUME.num_slices, ROI.height, ROI.width]);
    const after = await call(planRunner, hw.state, {});
    expect(after.laser).toBe("ALL OFF");
    expect(after.acquisition).toBeNull();
    const meta = await rawHttp(system.httpPort, `/api/images/${result.volume_uids[0]}`);
    expect(meta.status).toBe(200);
  }, 120_000);
});
