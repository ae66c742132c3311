import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { publishDurable } from "@gently/bus";
import { writeDerivedItem, writeSampleVolume } from "@gently/datastore";
import { DerivedWritten, newUid, RunProgress, subjects } from "@gently/protocol";
import { browserSuite, HAS_CHROMIUM, launchChromium, pixelOf, shownImage, type PageGlobals } from "./browser-support";
import { startVizHarness, type VizHarness } from "./test-harness";
import { announceVolume } from "./announce-volume";

const W = 256;
const H = 128;
/** Dim background with one bright square whose x position moves with z: slices differ in shape, not only in level. */
const movingSquare = (z: number) => {
  const p = new Uint16Array(W * H).fill(100);
  for (let y = 20; y < 60; y++) for (let x = z * 50; x < z * 50 + 40; x++) p[y * W + x] = 4000;
  return p;
};

const SCREENSHOT = "/tmp/gently-viz-page.png";

describe.skipIf(!HAS_CHROMIUM)(browserSuite("web page with volumes announced as the writer does"), () => {
  let h: VizHarness;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    h = await startVizHarness({ indexer: true });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  });
  afterAll(async () => {
    await browser?.close();
    await h?.stop();
  });

  it("lists a new volume live, follows it, scrubs z, shows the MIP, overlays detections and shows run progress", async () => {
    const earlier = await writeSampleVolume(h.storage, { size_x: W, size_y: H, size_z: 2, plane: (_c, z) => movingSquare(z), session_id: "browser" });
    await announceVolume(h.js, earlier);
    // Wait until the DataStore lists it, so the page's first list load includes it.
    await expect.poll(async () => ((await (await fetch(`${h.base}/api/volumes`)).json()) as { items?: unknown[] }).items?.length, { timeout: 20_000 }).toBe(1);

    await page.goto(h.base + "/");
    await page.locator(`#volumes li[data-uid="${earlier.uid}"]`).waitFor();
    await page.locator("#live.on").waitFor();
    await page.evaluate(() => ((globalThis as PageGlobals).marker = 42));

    // An acquisition finishes while the page is open: the writer's file and announcement.
    const volume = await writeSampleVolume(h.storage, { size_x: W, size_y: H, size_z: 4, plane: (_c, z) => movingSquare(z), session_id: "browser" });
    await announceVolume(h.js, volume);
    await page.locator(`#volumes li[data-uid="${volume.uid}"].selected`).waitFor();
    expect(await page.evaluate(() => (globalThis as PageGlobals).marker)).toBe(42); // no reload

    // "follow newest" selected it and shows the middle slice (z = 2): the square is at x 100..139.
    await shownImage(page, `/api/images/${volume.uid}/slice/2.png`);
    expect(await page.locator("#z").getAttribute("max")).toBe("3");
    expect(await pixelOf(page, 120, 40)).toBe(255);
    expect(await pixelOf(page, 20, 40)).toBe(0);

    // Moving the slider to z = 0 moves the square to x 0..39.
    await page.locator("#z").fill("0");
    await shownImage(page, `/api/images/${volume.uid}/slice/0.png`);
    expect(await pixelOf(page, 20, 40)).toBe(255);
    expect(await pixelOf(page, 120, 40)).toBe(0);

    // A fixed window instead of auto contrast: 4000 is above max, 100 maps to round(100·255/8000).
    await page.locator("#auto").uncheck();
    await page.locator("#min").fill("0");
    await page.locator("#max").fill("8000");
    await page.locator("#max").dispatchEvent("change");
    await shownImage(page, `/api/images/${volume.uid}/slice/0.png?min=0&max=8000`);
    expect(await pixelOf(page, 20, 40)).toBe(Math.round((4000 * 255) / 8000));
    expect(await pixelOf(page, 120, 40)).toBe(Math.round((100 * 255) / 8000));
    await page.locator("#auto").check();

    // The MIP holds every z's square.
    await page.locator("#tab-mip").click();
    await shownImage(page, `/api/images/${volume.uid}/mip.png`);
    for (const x of [20, 70, 120, 170]) expect(await pixelOf(page, x, 40)).toBe(255);
    expect(await pixelOf(page, 230, 100)).toBe(0);
    expect(await page.locator("#z-row").isHidden()).toBe(true);

    // Detections of this image, announced the way the SAM service does: a box is drawn over the image.
    const detection = await writeDerivedItem(
      h.storage,
      { uid: newUid(), ext: "json", data_type: "detection", parent_uid: volume.uid, metadata: { count: 1 } },
      new TextEncoder().encode(JSON.stringify({ embryos: [{ embryo_id: "embryo_1", bbox: [150, 20, 190, 60], confidence: 0.9 }] })),
    );
    await publishDurable(h.js, subjects.derived.written, DerivedWritten, detection, detection.uid);
    await page.locator("#detection-count", { hasText: "(1)" }).waitFor();
    const boxEdge = await page.evaluate(() => {
      const { document } = globalThis as PageGlobals;
      const overlay = document.getElementById("overlay");
      const img = document.getElementById("image");
      const scale = overlay.width / img.naturalWidth;
      return Array.from(overlay.getContext("2d").getImageData(Math.round(150 * scale), Math.round(40 * scale), 1, 1).data as number[]);
    });
    expect(boxEdge[3]).toBeGreaterThan(0);

    // Progress of the running plan.
    const run = newUid();
    await publishDurable(h.js, subjects.run.progress(run), RunProgress, { run_uid: run, done: 3, total: 12, phase: "acquiring", message: "frame 3/12" }, newUid());
    await page.locator("#run-text", { hasText: "3/12" }).waitFor();
    expect(await page.locator("#run-progress").evaluate((p: PageGlobals) => [p.value, p.max])).toEqual([3, 12]);

    await page.screenshot({ path: SCREENSHOT });
  });
});
