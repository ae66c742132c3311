import { median } from "@gently/bench-stats";
import { connectBus, createLogger } from "@gently/bus";
import { writeSampleVolume } from "@gently/datastore";
import { startTestNats, tempStorage } from "@gently/testing";
import { autoWindow, TiffVolume, toGray8 } from "@gently/preview";
import { encodeGray8Png } from "../src/png";
import { startVizServer } from "../src/viz-server";

export interface VizBenchResult {
  width: number;
  height: number;
  runs: number;
  /** GET /api/images/{uid}/slice/{z}.png over HTTP (read strips, auto contrast, PNG): median */
  slice_png_ms: number;
  /** fast-png alone on the same 8-bit plane, same settings: median */
  png_encode_ms: number;
  /** slice_png_ms / png_encode_ms: what the handler adds on top of the encoder */
  overhead_ratio: number;
  png_bytes: number;
}

/** A camera-like plane: dim background, noise and a few bright blobs. */
function samplePlane(width: number, height: number, seed: number): Uint16Array {
  const plane = new Uint16Array(width * height);
  let s = seed >>> 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      s = (s * 1664525 + 1013904223) >>> 0;
      const blob = Math.max(0, 1 - Math.hypot((x % 512) - 256, (y % 512) - 256) / 200);
      plane[y * width + x] = 100 + (s >>> 26) + Math.round(3000 * blob);
    }
  }
  return plane;
}

/**
 * Slice PNG latency for a 2048x2048 uint16 plane through the real server
 * (real NATS, real file, HTTP), against fast-png encoding the same 8-bit
 * plane alone; prints both medians and the overhead ratio.
 */
export async function benchViz(opts: { size?: number; runs?: number } = {}): Promise<VizBenchResult> {
  const size = opts.size ?? 2048;
  const runs = opts.runs ?? 21;
  const logger = createLogger("viz-bench", "silent");
  const nats = await startTestNats();
  const storage = tempStorage("gently-viz-bench-");
  const nc = await connectBus({ servers: nats.url, name: "viz-bench", logger });
  const server = await startVizServer({ nc, storage: storage.dir, port: 0, logger });
  try {
    const written = await writeSampleVolume(storage.dir, { size_x: size, size_y: size, size_z: 2, plane: (_c, z) => samplePlane(size, size, z + 1) });
    const url = `http://127.0.0.1:${server.port}/api/images/${written.uid}/slice/1.png`;
    const http: number[] = [];
    let pngBytes = 0;
    for (let i = 0; i < runs + 2; i++) {
      const t0 = performance.now();
      const res = await fetch(url);
      if (!res.ok) throw new Error(`slice request failed: ${res.status} ${await res.text()}`);
      pngBytes = (await res.arrayBuffer()).byteLength;
      if (i >= 2) http.push(performance.now() - t0); // the first two warm the volume cache and the JIT
    }
    const volume = await TiffVolume.open(written.path);
    const plane = await volume.readPlane(0, 1);
    await volume.close();
    const gray = toGray8(plane, autoWindow(plane));
    const encode: number[] = [];
    for (let i = 0; i < runs + 2; i++) {
      const t0 = performance.now();
      encodeGray8Png(gray, size, size);
      if (i >= 2) encode.push(performance.now() - t0);
    }
    const result: VizBenchResult = {
      width: size,
      height: size,
      runs,
      slice_png_ms: median(http),
      png_encode_ms: median(encode),
      overhead_ratio: median(http) / median(encode),
      png_bytes: pngBytes,
    };
    console.log(
      `viz: slice PNG ${size}x${size} uint16 median ${result.slice_png_ms.toFixed(1)} ms over HTTP; ` +
        `fast-png alone ${result.png_encode_ms.toFixed(1)} ms; overhead ratio ${result.overhead_ratio.toFixed(2)} (${runs} runs, ${pngBytes} bytes)`,
    );
    return result;
  } finally {
    await server.stop();
    await nc.close();
    await nats.stop();
    storage.remove();
  }
}
