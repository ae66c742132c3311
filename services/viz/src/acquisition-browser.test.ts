import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { connect, type GentlyClient } from "@gently/client";
import { browserSuite, HAS_CHROMIUM, launchChromium, pixelsOf, shownImage } from "./browser-support";
import { startVizHarness, TEST_ROI, type VizHarness } from "./test-harness";

const SLICES = 8;

describe.skipIf(!HAS_CHROMIUM)(browserSuite("web page during a real acquisition (hardware, writer, plan-runner, indexer, viz)"), () => {
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

  it("shows the plan's progress, then its volume without a reload, and scrubs through the real slices", async () => {
    await page.goto(h.base + "/");
    await page.locator("#live.on").waitFor();

    const run = await client.submit(
      "acquire_volume",
      { num_slices: SLICES, exposure_ms: 2, piezo_center_um: 0, piezo_amplitude_um: 5, galvo_amplitude_deg: 0.05 },
      { session_id: "viz-browser" },
    );
    const result = await run.done();
    expect(result.status).toBe("success");
    const uid = result.volumes[0]!.uid;

    // progress of the plan, from its start document and progress messages
    await page.locator("#run-label", { hasText: "acquire_volume" }).waitFor();
    await page.locator("#run-text", { hasText: `${SLICES}/${SLICES}` }).waitFor();
    // the volume arrived live and "follow newest" opened it at the middle slice
    await page.locator(`#volumes li[data-uid="${uid}"].selected`).waitFor();
    await shownImage(page, `/api/images/${uid}/slice/${SLICES / 2}.png`);
    const middle = await pixelsOf(page);
    expect(middle).toHaveLength(TEST_ROI.width * TEST_ROI.height);

    await page.locator("#z").fill("0");
    await shownImage(page, `/api/images/${uid}/slice/0.png`);
    const first = await pixelsOf(page);
    expect(first.filter((v, i) => v !== middle[i]).length).toBeGreaterThan(first.length / 100);

    await page.locator("#tab-mip").click();
    await shownImage(page, `/api/images/${uid}/mip.png`);
    expect(await pixelsOf(page)).toHaveLength(TEST_ROI.width * TEST_ROI.height);
    await page.screenshot({ path: "/tmp/gently-viz-acquisition.png" });
  });
});
