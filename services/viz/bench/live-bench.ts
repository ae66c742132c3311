import { median } from "@gently/bench-stats";
import { decodeJson } from "@gently/bus";
import { connect } from "@gently/client";
import { PreviewFrame, subjects } from "@gently/protocol";
import { CHROMIUM, HAS_CHROMIUM, launchChromium, type PageGlobals } from "../test/browser-support";
import { startVizHarness } from "../test/harness";

export interface LivePreviewBenchResult {
  slices: number;
  exposure_ms: number;
  /** previews drawn by the page during the volume */
  previews: number;
  /** published_us → painted in Chromium's Live view (the next animation frame after drawing): median and 95th percentile */
  screen_median_ms: number;
  screen_p95_ms: number;
  /** published_us → received by a plain NATS subscriber in this process: the bus alone, median */
  bus_median_ms: number;
  /** screen_median_ms / bus_median_ms: what viz, SSE and the page add on top of the bus */
  ratio_vs_bus: number;
}

/** The q-th quantile (0..1) of the values, nearest rank. */
function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN;
}

/**
 * Frame-to-screen latency of the live preview: the simulated microscope
 * (hardware, writer, plan runner, viz as their own processes) acquires a
 * volume while headless Chromium shows the page's Live view; each preview's
 * `published_us` is compared with the moment the page painted it, and with
 * the moment a plain NATS subscriber got it (the baseline, same run).
 */
export async function benchLivePreview(opts: { slices?: number; exposure_ms?: number } = {}): Promise<LivePreviewBenchResult> {
  if (!HAS_CHROMIUM) throw new Error(`the live preview bench needs Chromium at ${CHROMIUM} (./setup.sh --test installs it)`);
  const slices = opts.slices ?? 200;
  const exposure_ms = opts.exposure_ms ?? 10;
  const h = await startVizHarness({ indexer: true, microscope: true });
  const client = await connect({ url: h.nats.url, storage: h.storage, reconnect: false });
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(h.base + "/");
    await page.locator("#live.on").waitFor();
    await page.locator("#tab-live").click();
    // every latency the page shows, as it shows it
    await page.evaluate(() => {
      const g = globalThis as PageGlobals;
      g.latencies = [];
      new g.MutationObserver((records: PageGlobals[]) => {
        for (const r of records) g.latencies.push(Number(r.target.dataset.latencyMs));
      }).observe(g.document.getElementById("camera-thumbs"), { subtree: true, attributeFilter: ["data-latency-ms"] });
    });
    const bus: number[] = [];
    const sub = h.nc.subscribe(subjects.device.preview, {
      callback: (err, m) => {
        if (!err) bus.push(Date.now() - PreviewFrame.parse(decodeJson(m.data)).published_us / 1000);
      },
    });
    const run = await client.submit("acquire_volume", { num_slices: slices, exposure_ms, piezo_center_um: 0, piezo_amplitude_um: 20, galvo_amplitude_deg: 0.2 }, { session_id: "bench" });
    const result = await run.done();
    if (result.status !== "success") throw new Error(`bench acquisition ended ${result.status}`);
    // the last preview's paint
    await new Promise((r) => setTimeout(r, 200));
    sub.unsubscribe();
    const screen = (await page.evaluate(() => (globalThis as PageGlobals).latencies)) as number[];
    if (screen.length === 0 || bus.length === 0) throw new Error(`no previews measured (page ${screen.length}, bus ${bus.length})`);
    const out: LivePreviewBenchResult = {
      slices,
      exposure_ms,
      previews: screen.length,
      screen_median_ms: median(screen),
      screen_p95_ms: quantile(screen, 0.95),
      bus_median_ms: median(bus),
      ratio_vs_bus: median(screen) / Math.max(0.1, median(bus)),
    };
    console.log(
      `live preview: ${out.previews} previews over ${slices} slices at ${exposure_ms} ms; frame-to-screen median ${out.screen_median_ms.toFixed(1)} ms ` +
        `(p95 ${out.screen_p95_ms.toFixed(1)}), bus alone ${out.bus_median_ms.toFixed(1)} ms`,
    );
    return out;
  } finally {
    await browser.close();
    await client.close();
    await h.stop();
  }
}
