import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { connect, type GentlyClient } from "@gently/client";
import { browserSuite, HAS_CHROMIUM, launchChromium, shownView, type PageGlobals } from "../test/browser-support";
import { startVizHarness, TEST_ROI, type VizHarness } from "../test/harness";

const SLICES = 40;
const EXPOSURE_MS = 20;

/** Starts recording, in the page, every distinct live view shown and every header progress text. */
function recordPage(page: Page): Promise<void> {
  return page.evaluate(() => {
    const g = globalThis as PageGlobals;
    g.seenViews = new Set();
    g.seenProgress = new Set();
    g.seenDevice = new Set();
    g.recorder = g.setInterval(() => {
      const text = (id: string) => g.document.getElementById(id).textContent;
      g.seenViews.add(g.document.getElementById("view").dataset.shown ?? "");
      g.seenProgress.add(text("run-text"));
      g.seenDevice.add(`${text("dev-laser")} | ${text("dev-activity")}`);
    }, 5);
  });
}

function recorded(page: Page): Promise<{ views: string[]; progress: string[]; device: string[] }> {
  return page.evaluate(() => {
    const g = globalThis as PageGlobals;
    g.clearInterval(g.recorder);
    return { views: [...g.seenViews], progress: [...g.seenProgress], device: [...g.seenDevice] };
  });
}

describe.skipIf(!HAS_CHROMIUM)(browserSuite("the viewer page during a real acquisition (hardware, writer, plan-runner, indexer, viz)"), () => {
  let h: VizHarness;
  let client: GentlyClient;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    h = await startVizHarness({ indexer: true, microscope: true });
    client = await connect({ url: h.nats.url, storage: h.storage, reconnect: false });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  });
  afterAll(async () => {
    await browser?.close();
    await client?.close();
    await h?.stop();
  });

  it("shows the camera's live preview and the plan's progress per frame while a volume is acquired, then the volume without a reload", async () => {
    await page.goto(h.base + "/");
    await page.locator("#live.on").waitFor();
    // device state read back from the hardware, while idle
    await page.locator("#device").waitFor();
    expect(await page.locator("#dev-laser").textContent()).toBe("ALL OFF");
    await page.locator("#tab-live").click();
    await recordPage(page);

    const run = await client.submit(
      "acquire_volume",
      { num_slices: SLICES, exposure_ms: EXPOSURE_MS, piezo_center_um: 0, piezo_amplitude_um: 20, galvo_amplitude_deg: 0.2, laser_config: "488 only" },
      { session_id: "viz-browser" },
    );
    const result = await run.done();
    expect(result.status).toBe("success");
    const uid = result.volumes[0]!.uid;
    const { views, progress, device } = await recorded(page);

    // previews arrived and were drawn while the volume was acquired (≤ 10/s over ≥ SLICES·EXPOSURE_MS)
    const liveViews = views.filter((v) => v.startsWith("live/"));
    expect(liveViews.length).toBeGreaterThanOrEqual(3);
    expect(await page.locator("#camera-caption").textContent()).toMatch(/HamCam\d · sequence · frame \d+/);
    // the header moved with the frames, not only at the end
    expect(progress.filter((p) => /\d+\/\d+/.test(p)).length).toBeGreaterThanOrEqual(4);
    // the device line showed the lasers on and the sequence's frames while it ran, read back from the hardware
    expect(device.some((d) => new RegExp(`^488 only \\| sequence \\(acquire_volume\\) · \\d+/${SLICES} frames$`).test(d))).toBe(true);
    await page.locator("#dev-laser", { hasText: "ALL OFF" }).waitFor();
    await page.screenshot({ path: "/tmp/F/acquisition-live.png" });

    // the volume arrived live and "follow newest" selected it (the Live view stays); a click on it leaves Live for its middle slice
    await page.locator(`#runs li[data-uid="${uid}"].selected`).waitFor();
    await page.locator(`#runs li[data-uid="${uid}"]`).click();
    await shownView(page, `${uid}/slice/${SLICES / 2}`);
    const readout = page.locator("#readout");
    const box = (await page.locator("#view").boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    expect(await readout.textContent()).toMatch(/x \d+ y \d+ px .* value \d+/);
    expect(await page.locator("#meta").textContent()).toContain(`${SLICES}×${TEST_ROI.height}×${TEST_ROI.width}`);
    await page.screenshot({ path: "/tmp/F/acquisition-volume.png" });
  });

  it("folds a real calibration's focus-sweep frames into one row named by its plan", async () => {
    const run = await client.submit(
      "calibrate_piezo_galvo",
      { piezo_positions_um: [-5, 5], galvo_positions_deg: [-0.1, 0, 0.1], exposure_ms: 2 },
      { session_id: "viz-browser" },
    );
    const result = await run.done();
    expect(result.status).toBe("success");
    const row = page.locator(`#runs > li[data-run="${run.run_uid}"]`);
    await row.locator(".count", { hasText: "6 images" }).waitFor({ timeout: 30_000 });
    expect(await row.locator(".title").textContent()).toContain("calibrate_piezo_galvo");
    expect(await page.locator("#runs > li").count()).toBe(2); // the volume before, and the calibration
    await row.locator(".run-head").click();
    // each frame says where the sheet was
    expect(await row.locator("li.item .title").allTextContents()).toEqual(
      [-5, 5].flatMap((piezo) => [-0.1, 0, 0.1].map((galvo) => expect.stringContaining(`piezo ${piezo.toFixed(1)} µm, galvo ${galvo.toFixed(3)}°`))),
    );
  });
});
