import { spawnSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { AddressInfo } from "node:net";
import { median } from "@gently/bench-stats";
import { call } from "@gently/bus";
import { connect } from "@gently/client";
import { hw } from "@gently/protocol";
import { SMALL_SAMPLE, startTestSystem } from "@gently/testing";

export interface LegacyPathResult {
  shape: number[];
  /** our path: submit acquire_volume → volume written, fsynced, announced → {uid, path, …} in the copilot (median) */
  ours_ms: number;
  /** the old path in Node: the same pixels as nested lists → JSON → HTTP → JSON.parse → typed array (median) */
  legacy_ms: number;
  ratio: number;
  /** the old path as the seed's Python servers ran it (numpy tolist → json.dumps → HTTP → json.loads → ndarray), when numpy is there */
  legacy_python_ms?: number;
  ratio_python?: number;
  ours_reply_bytes: number;
  legacy_reply_bytes: number;
}

/** What the old server did with an ndarray: tolist() then json.dumps — nested lists of numbers. */
function toNestedLists(data: Uint16Array, shape: number[]): number[][][] {
  const [z, y, x] = shape as [number, number, number];
  const out: number[][][] = [];
  for (let k = 0; k < z; k++) {
    const plane: number[][] = [];
    for (let j = 0; j < y; j++) plane.push(Array.from(data.subarray((k * y + j) * x, (k * y + j + 1) * x)));
    out.push(plane);
  }
  return out;
}

/** The old client: parse the JSON and turn it back into an array of pixels. */
function fromNestedLists(nested: number[][][]): Uint16Array {
  const z = nested.length;
  const y = nested[0]!.length;
  const x = nested[0]![0]!.length;
  const out = new Uint16Array(z * y * x);
  let i = 0;
  for (const plane of nested) for (const row of plane) for (const v of row) out[i++] = v;
  return out;
}

/**
 * The seed's legacy path for a 50 × 512 × 2048 volume against ours, both
 * measured in this run on the same volume: the real system acquires and
 * writes it (our path), then the same pixels go through JSON over HTTP.
 */
export async function benchLegacyPath(opts: { rounds?: number; log?: (l: string) => void } = {}): Promise<LegacyPathResult> {
  const rounds = opts.rounds ?? 3;
  const log = opts.log ?? (() => undefined);
  const system = await startTestSystem({ services: ["hardware", "writer", "plan-runner", "indexer"], sim: { ...SMALL_SAMPLE, frame_interval_ms: 0 } });
  const planRunner = await system.connectAs("plan-runner");
  const client = await connect({ url: system.nats.url, user: "copilot", pass: system.credentials.copilot, storage: system.storage, timeoutMs: 60_000 });
  const server = http.createServer();
  try {
    await call(planRunner, hw.setCamera, { camera: "HamCam1", roi: { x: 0, y: 768, width: 2048, height: 512 } });
    const ours: number[] = [];
    let ref = { uid: "", path: "", shape: [] as number[], dtype: "", session_id: "" };
    // one untimed acquisition first: every process opens its files and warms its code paths
    await (await client.submit("acquire_volume", { num_slices: 50, exposure_ms: 5, cameras: ["HamCam1"] }, { session_id: "bench" })).done();
    for (let i = 0; i < rounds; i++) {
      const t0 = performance.now();
      const run = await client.submit("acquire_volume", { num_slices: 50, exposure_ms: 5, cameras: ["HamCam1"] }, { session_id: "bench" });
      const result = await run.done();
      ours.push(performance.now() - t0);
      if (result.status !== "success") throw new Error(`acquisition failed: ${result.reason}`);
      const v = result.volumes[0]!;
      ref = { uid: v.uid, path: v.path, shape: v.shape, dtype: v.dtype, session_id: v.session_id };
      log(`our path, round ${i + 1}: ${ours.at(-1)!.toFixed(0)} ms → ${v.uid}`);
    }
    const volume = await client.loadVolume(ref.uid);
    const pixels = volume.data as Uint16Array;
    const shape = ref.shape.length === 3 ? ref.shape : [ref.shape.at(-3)!, ref.shape.at(-2)!, ref.shape.at(-1)!];

    let legacyBytes = 0;
    server.on("request", (_req, res) => {
      const body = JSON.stringify({ data: toNestedLists(pixels, shape), shape, dtype: "uint16" });
      legacyBytes = Buffer.byteLength(body);
      res.writeHead(200, { "content-type": "application/json", "content-length": legacyBytes });
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/queue/item/add`;
    const legacy: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const t0 = performance.now();
      const parsed = (await (await fetch(url)).json()) as { data: number[][][] };
      const back = fromNestedLists(parsed.data);
      legacy.push(performance.now() - t0);
      if (back.length !== pixels.length || back[12345] !== pixels[12345]) throw new Error("legacy round trip changed the pixels");
      log(`legacy path, round ${i + 1}: ${legacy.at(-1)!.toFixed(0)} ms, ${(legacyBytes / 1e6).toFixed(0)} MB of JSON`);
    }
    const oursMs = median(ours);
    const legacyMs = median(legacy);
    const python = legacyInPython(pixels, shape, rounds, log);
    return {
      shape,
      ours_ms: oursMs,
      legacy_ms: legacyMs,
      ratio: legacyMs / oursMs,
      ...(python ? { legacy_python_ms: python, ratio_python: python / oursMs } : {}),
      ours_reply_bytes: Buffer.byteLength(JSON.stringify(ref)),
      legacy_reply_bytes: legacyBytes,
    };
  } finally {
    server.close();
    await client.close();
    await planRunner.close();
    await system.stop();
  }
}

const SYSTEM_PYTHON = "/usr/bin/python3";
const LEGACY_SCRIPT = fileURLToPath(new URL("./legacy_path.py", import.meta.url));

/** Runs the legacy path with the seed's own stack (Python, numpy); undefined when numpy is not installed. */
function legacyInPython(pixels: Uint16Array, shape: number[], rounds: number, log: (l: string) => void): number | undefined {
  if (spawnSync(SYSTEM_PYTHON, ["-c", "import numpy"], { stdio: "ignore" }).status !== 0) {
    log(`${SYSTEM_PYTHON} cannot import numpy (Debian: apt-get install python3-numpy): no Python legacy comparison`);
    return undefined;
  }
  const raw = path.join(os.tmpdir(), `gently-legacy-${process.pid}.raw`);
  writeFileSync(raw, Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength));
  try {
    const run = spawnSync(SYSTEM_PYTHON, [LEGACY_SCRIPT, raw, ...shape.map(String), String(rounds)], { encoding: "utf8", maxBuffer: 1 << 20 });
    if (run.status !== 0) throw new Error(`legacy_path.py failed: ${run.stderr}`);
    const { ms } = JSON.parse(run.stdout) as { ms: number[] };
    ms.forEach((t, i) => log(`legacy path in Python, round ${i + 1}: ${t.toFixed(0)} ms`));
    return median(ms);
  } finally {
    rmSync(raw, { force: true });
  }
}
