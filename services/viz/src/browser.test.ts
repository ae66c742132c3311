import { mkdirSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { publishDurable } from "@gently/bus";
import { writeSampleVolume } from "@gently/datastore";
import { writeDerivedItem } from "@gently/derived";
import { DerivedWritten, newUid, RunProgress, subjects, type VolumeWritten } from "@gently/protocol";
import { browserSuite, colourAt, colourOfPixel, HAS_CHROMIUM, launchChromium, screenOf, shownView, type PageGlobals } from "../test/browser-support";
import { startVizHarness, type VizHarness } from "../test/harness";
import { announceVolume } from "./announce-volume";

const W = 256;
const H = 128;
const Z = 4;
/** pixel size and z step of writeSampleVolume's volumes */
const PIXEL_UM = 0.1625;
const Z_STEP_UM = 1.5;
/** the focus stage's z of writeSampleVolume's volumes: the file records slice z at STAGE_Z_UM + z · Z_STEP_UM */
const STAGE_Z_UM = 50;
const BRIGHT = 4000;
/** A known value at every pixel: a gentle ramp, and a bright square whose x position moves with z. */
const valueAt = (x: number, y: number, z: number) => (y >= 20 && y < 60 && x >= z * 50 && x < z * 50 + 40 ? BRIGHT : 100 + x + 2 * y);
const plane = (_c: number, z: number) => {
  const p = new Uint16Array(W * H);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) p[y * W + x] = valueAt(x, y, z);
  return p;
};
/** The page's mapping of a value through a window and gamma to a LUT level, written independently of it. */
const level = (v: number, min: number, max: number, gamma = 1) => (v <= min ? 0 : v >= max ? 255 : Math.round(255 * Math.pow((v - min) / (max - min), gamma)));

const SHOTS = "/tmp/F";

async function windowOf(page: Page, c = 0): Promise<{ min: number; max: number }> {
  const panel = page.locator(`.channel[data-c="${c}"]`);
  return { min: Number(await panel.locator(".min").inputValue()), max: Number(await panel.locator(".max").inputValue()) };
}

async function waitListed(h: VizHarness, count: number): Promise<void> {
  await expect
    .poll(async () => ((await (await fetch(`${h.base}/api/volumes?limit=1000`)).json()) as { items?: unknown[] }).items?.length, { timeout: 30_000 })
    .toBe(count);
}

describe.skipIf(!HAS_CHROMIUM)(browserSuite("the viewer page on real volumes, announced as the writer does"), () => {
  let h: VizHarness;
  let browser: Browser;
  let page: Page;
  let volume: VolumeWritten;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    h = await startVizHarness({ indexer: true });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  });
  afterAll(async () => {
    await browser?.close();
    await h?.stop();
  });

  it("follows a new volume live at full resolution, zooms and pans, and reads out x, y (px, µm) and the stored value of a known pixel", async () => {
    const earlier = await writeSampleVolume(h.storage, { size_x: W, size_y: H, size_z: 2, plane, session_id: "browser" });
    await announceVolume(h.js, earlier);
    await waitListed(h, 1);

    await page.goto(h.base + "/");
    await page.locator(`#runs li[data-uid="${earlier.uid}"]`).waitFor();
    await page.locator("#live.on").waitFor();
    await page.evaluate(() => ((globalThis as PageGlobals).marker = 42));

    volume = await writeSampleVolume(h.storage, { size_x: W, size_y: H, size_z: Z, plane, session_id: "browser" });
    await announceVolume(h.js, volume);
    await page.locator(`#runs li[data-uid="${volume.uid}"].selected`).waitFor();
    expect(await page.evaluate(() => (globalThis as PageGlobals).marker)).toBe(42); // no reload
    expect(await page.evaluate(() => (globalThis as PageGlobals).location.hash)).toBe(`#${volume.uid}`);
    await shownView(page, `${volume.uid}/slice/2`);

    // zoom in with the wheel over the middle of the image
    const centre = await screenOf(page, W / 2, H / 2);
    await page.mouse.move(centre.x, centre.y);
    for (let i = 0; i < 4; i++) await page.mouse.wheel(0, -300);
    const scale = Number(await page.locator("#view").getAttribute("data-scale"));
    expect(scale).toBeGreaterThan(8);
    expect(await page.locator("#zoom-value").textContent()).toBe(`${Math.round(scale * 100)} %`);

    // pixel readout over a pixel of the bright square (z = 2: x 100..139) and one of the ramp
    for (const [x, y] of [
      [110, 60 - 1],
      [126, 66],
    ]) {
      const at = await screenOf(page, x, y);
      await page.mouse.move(at.x, at.y);
      const text = await page.locator("#readout").textContent();
      expect(text).toContain(`x ${x} y ${y} px`);
      expect(text).toContain(`${(x * PIXEL_UM).toFixed(2)}, ${(y * PIXEL_UM).toFixed(2)} µm`);
      expect(text).toContain(`value ${valueAt(x, y, 2)}`);
      expect(text).toContain(`z ${(STAGE_Z_UM + 2 * Z_STEP_UM).toFixed(2)} µm`);
      const { min, max } = await windowOf(page);
      const l = level(valueAt(x, y, 2), min, max);
      expect(await colourOfPixel(page, x, y)).toEqual([l, l, l]);
    }
    // auto contrast keeps the bright square below saturation's edge, the ramp in the grey range
    const auto = await windowOf(page);
    expect(auto.max).toBe(BRIGHT);
    expect(auto.min).toBeLessThan(200);

    // drag pans the view by what the mouse moved
    const before = Number(await page.locator("#view").getAttribute("data-x"));
    await page.mouse.move(centre.x, centre.y);
    await page.mouse.down();
    await page.mouse.move(centre.x + 120, centre.y, { steps: 5 });
    await page.mouse.up();
    expect(Number(await page.locator("#view").getAttribute("data-x"))).toBeCloseTo(before + 120, 0);

    // the scale bar is a round length in µm
    expect(await page.locator("#view").getAttribute("data-scale-bar")).toMatch(/^(1|2|5)(0*) µm$|^0\.(0*)(1|2|5) µm$/);
    await page.screenshot({ path: `${SHOTS}/zoomed-readout.png` });
  });

  it("histogram handles, gamma and LUTs change the rendered pixels", async () => {
    await page.locator("#zoom-fit").click();
    const [x, y] = [126, 66];
    const v = valueAt(x, y, 2);
    const auto = await windowOf(page);
    const grey = level(v, auto.min, auto.max);
    expect(await colourOfPixel(page, x, y)).toEqual([grey, grey, grey]);

    // drag the max handle to the left: max drops, the ramp pixel gets brighter
    const histogram = page.locator('.channel[data-c="0"] .histogram');
    const box = (await histogram.boundingBox())!;
    const maxPx = Number(await histogram.getAttribute("data-max"));
    await page.mouse.move(box.x + maxPx, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + maxPx * 0.3, box.y + box.height / 2, { steps: 6 });
    await page.mouse.up();
    const dragged = await windowOf(page);
    expect(dragged.max).toBeLessThan(auto.max / 2);
    expect(dragged.min).toBe(auto.min);
    const brighter = level(v, dragged.min, dragged.max);
    expect(brighter).toBeGreaterThan(grey);
    await expect.poll(() => colourOfPixel(page, x, y)).toEqual([brighter, brighter, brighter]);

    // gamma 0.5 lifts the mid-tones
    await page.locator('.channel[data-c="0"] .gamma').fill("0.5");
    const lifted = level(v, dragged.min, dragged.max, 0.5);
    expect(lifted).toBeGreaterThan(brighter);
    await expect.poll(() => colourOfPixel(page, x, y)).toEqual([lifted, lifted, lifted]);

    // LUTs: green keeps only green, magenta red and blue, fire is not grey
    const lut = page.locator('.channel[data-c="0"] .lut');
    await lut.selectOption("green");
    await expect.poll(() => colourOfPixel(page, x, y)).toEqual([0, lifted, 0]);
    await lut.selectOption("magenta");
    await expect.poll(() => colourOfPixel(page, x, y)).toEqual([lifted, 0, lifted]);
    await lut.selectOption("fire");
    const fire = await colourOfPixel(page, x, y);
    expect(new Set(fire).size).toBeGreaterThan(1);
    await page.screenshot({ path: `${SHOTS}/fire-gamma.png` });

    // the window holds on another slice until "auto"
    await page.locator("#z").fill("1");
    await shownView(page, `${volume.uid}/slice/1`);
    expect(await windowOf(page)).toEqual(dragged);
    await page.locator('.channel[data-c="0"] .auto').click();
    await page.locator('.channel[data-c="0"] .gamma').fill("1");
    await lut.selectOption("gray");
    expect((await windowOf(page)).max).toBe(BRIGHT);
  });

  it("auto contrast keeps a small dark object (an embryo in brightfield) and a small bright one from clipping", async () => {
    // bright background 1000..1063; a dark 6×6 blob 100..135 (0.1 % of the pixels); a bright 6×6 blob 5000..5035
    const image = await writeSampleVolume(h.storage, {
      data_type: "image",
      size_x: W,
      size_y: H,
      session_id: "browser",
      plane: () => {
        const p = new Uint16Array(W * H);
        for (let i = 0; i < p.length; i++) p[i] = 1000 + (i % 64);
        for (let y = 0; y < 6; y++) for (let x = 0; x < 6; x++) {
          p[(60 + y) * W + 60 + x] = 100 + y * 6 + x;
          p[(60 + y) * W + 180 + x] = 5000 + y * 6 + x;
        }
        return p;
      },
    });
    await page.locator("#follow").uncheck();
    await announceVolume(h.js, image);
    await page.locator(`#runs li[data-uid="${image.uid}"]`).click();
    await shownView(page, `${image.uid}/slice/0`);
    const auto = await windowOf(page);
    expect(auto.min).toBeLessThanOrEqual(103);
    expect(auto.max).toBeGreaterThanOrEqual(5032);
    // the blobs' own gradients stay visible: their darkest and brightest pixels differ on screen
    expect((await colourOfPixel(page, 65, 65))[0]).toBeGreaterThan((await colourOfPixel(page, 60, 60))[0]);
    expect((await colourOfPixel(page, 180, 60))[0]).toBeLessThan((await colourOfPixel(page, 184, 65))[0]);
    await page.locator("#follow").check();
    await page.locator(`#runs li[data-uid="${volume.uid}"]`).click();
    await shownView(page, `${volume.uid}/slice/${Z / 2}`);
  });

  it("z slider in µm, orthogonal XZ/YZ sections at a clicked point, and the MIP", async () => {
    await page.locator("#z").fill("0");
    await shownView(page, `${volume.uid}/slice/0`);
    expect(await page.locator("#z-value").textContent()).toBe(`z ${STAGE_Z_UM.toFixed(2)} µm · slice 1/${Z}`);
    expect(await page.locator("#z-value").getAttribute("title")).toBe(`slices ${Z_STEP_UM.toFixed(2)} µm apart`);
    expect((await colourOfPixel(page, 20, 40))[0]).toBe(255);

    // a click (no drag) at (20, 40) cuts the sections there
    const at = await screenOf(page, 20, 40);
    await page.mouse.click(at.x, at.y);
    await page.locator("#xz-caption", { hasText: "XZ at y 40" }).waitFor();
    await page.locator("#yz-caption", { hasText: "YZ at x 20" }).waitFor();
    // XZ shares the view's x: at x = 20 the square is there at z = 0 only (it moves 50 px per z)
    const xzRow = async (z: number) => {
      const rect = (await page.locator("#xz").boundingBox())!;
      const zScale = Number(await page.locator("#xz").getAttribute("data-z-scale"));
      return rect.y + 4 + (z + 0.5) * zScale;
    };
    expect((await colourAt(page, { x: at.x, y: await xzRow(0) }, "xz"))[0]).toBe(255);
    expect((await colourAt(page, { x: at.x, y: await xzRow(Z - 1) }, "xz"))[0]).toBeLessThan(100);
    const atZ3 = await screenOf(page, 3 * 50 + 20, 40);
    expect((await colourAt(page, { x: atZ3.x, y: await xzRow(Z - 1) }, "xz"))[0]).toBe(255);
    // YZ shares the view's y, z along x: at x = 20, y = 40 the square is there at z = 0 only
    const yzColumn = async (z: number) => {
      const rect = (await page.locator("#yz").boundingBox())!;
      const zScale = Number(await page.locator("#xz").getAttribute("data-z-scale"));
      return rect.x + 4 + (z + 0.5) * zScale;
    };
    expect((await colourAt(page, { x: await yzColumn(0), y: at.y }, "yz"))[0]).toBe(255);
    expect((await colourAt(page, { x: await yzColumn(Z - 1), y: at.y }, "yz"))[0]).toBeLessThan(100);
    await page.screenshot({ path: `${SHOTS}/orthogonal.png` });

    // → and ← step through z
    await page.keyboard.press("ArrowRight");
    await shownView(page, `${volume.uid}/slice/1`);
    await page.keyboard.press("ArrowLeft");
    await shownView(page, `${volume.uid}/slice/0`);

    await page.locator("#tab-mip").click();
    await shownView(page, `${volume.uid}/mip`);
    for (const x of [20, 70, 120, 170]) expect((await colourOfPixel(page, x, 40))[0]).toBe(255);
    expect(await page.locator("#z-field").isHidden()).toBe(true);
    await page.locator("#tab-slice").click();
    await shownView(page, `${volume.uid}/slice/0`);
  });

  it("a re-detection replaces the boxes of the one before", async () => {
    const detect = async (bbox: number[]) => {
      const detection = await writeDerivedItem(
        h.storage,
        { uid: newUid(), ext: "json", data_type: "detection", parent_uid: volume.uid, metadata: { count: 1 } },
        new TextEncoder().encode(JSON.stringify({ embryos: [{ embryo_id: "embryo_1", bbox, confidence: 0.9 }] })),
      );
      await publishDurable(h.js, subjects.derived.written, DerivedWritten, detection, detection.uid);
      return detection;
    };
    /** the colour on the left edge of image pixel (x, y), where a box starting at x draws its line */
    const yellow = async (x: number, y: number) => {
      const centre = await screenOf(page, x, y);
      const scale = Number(await page.locator("#view").getAttribute("data-scale"));
      const [r, g, b] = await colourAt(page, { x: centre.x - scale / 2, y: centre.y });
      return r > 200 && g > 150 && b < 80;
    };
    await page.locator("#zoom-fit").click();
    await detect([150, 70, 190, 110]);
    await page.locator("#detection-count", { hasText: "(1)" }).waitFor();
    await expect.poll(() => yellow(150, 90)).toBe(true);
    await new Promise((r) => setTimeout(r, 20)); // a later `created`
    await detect([60, 70, 100, 110]);
    await expect.poll(() => yellow(60, 90), { timeout: 10_000 }).toBe(true);
    expect(await yellow(150, 90)).toBe(false);
    expect(await page.locator("#detection-count").textContent()).toBe("(1)");
  });

  it("a dual-camera volume shows both cameras as channels with toggles and an additive overlay; the URL hash switches images", async () => {
    // HamCam1 bright at x 20..59, HamCam2 at x 40..99: they overlap at x 40..59
    const dual = await writeSampleVolume(h.storage, {
      size_x: W,
      size_y: H,
      size_z: 2,
      size_c: 2,
      session_id: "browser",
      plane: (c) => {
        const p = new Uint16Array(W * H).fill(100);
        const x0 = c === 0 ? 20 : 40;
        const x1 = c === 0 ? 60 : 100;
        for (let y = 20; y < 60; y++) for (let x = x0; x < x1; x++) p[y * W + x] = BRIGHT;
        return p;
      },
    });
    await page.locator("#follow").uncheck();
    await announceVolume(h.js, dual);
    await page.locator(`#runs li[data-uid="${dual.uid}"]`).waitFor();
    await page.evaluate((uid) => ((globalThis as PageGlobals).location.hash = uid), dual.uid);
    await shownView(page, `${dual.uid}/slice/1`);
    const names = await page.locator(".channel .name").allTextContents();
    expect(names).toHaveLength(2);
    expect(names[0]).toMatch(/^HamCam1/);
    expect(names[1]).toMatch(/^HamCam2/);
    expect(await page.locator(".channel .lut").evaluateAll((els: PageGlobals[]) => els.map((e) => e.value))).toEqual(["green", "magenta"]);

    expect(await colourOfPixel(page, 30, 45)).toEqual([0, 255, 0]);
    expect(await colourOfPixel(page, 80, 45)).toEqual([255, 0, 255]);
    expect(await colourOfPixel(page, 50, 45)).toEqual([255, 255, 255]);
    expect(await colourOfPixel(page, 150, 100)).toEqual([0, 0, 0]);
    const overlap = await screenOf(page, 50, 45);
    await page.mouse.move(overlap.x, overlap.y);
    expect(await page.locator("#readout").textContent()).toMatch(new RegExp(`HamCam1[^·]* ${BRIGHT} · HamCam2[^·]* ${BRIGHT}`));
    await page.screenshot({ path: `${SHOTS}/dual-camera.png` });

    await page.locator('.channel[data-c="1"] .visible').uncheck();
    await expect.poll(() => colourOfPixel(page, 80, 45)).toEqual([0, 0, 0]);
    expect(await colourOfPixel(page, 50, 45)).toEqual([0, 255, 0]);
    await page.locator('.channel[data-c="1"] .visible').check();

    // the hash names the volume: changing it switches back
    await page.evaluate((uid) => ((globalThis as PageGlobals).location.hash = uid), volume.uid);
    await page.waitForFunction((uid) => ((globalThis as PageGlobals).document.getElementById("view").dataset.shown ?? "").startsWith(uid), volume.uid);
    expect(await page.locator(`#runs li[data-uid="${volume.uid}"].selected`).count()).toBe(1);
    await page.locator("#follow").check();
  });

  it("groups a calibration's 123 images into one run row with its plan name, unfolds it and filters the list", async () => {
    const run_uid = newUid();
    const images: VolumeWritten[] = [];
    for (let i = 0; i < 123; i++) {
      images.push(await writeSampleVolume(h.storage, { data_type: "image", size_x: 32, size_y: 16, run_uid, plan_name: "calibrate", session_id: "browser" }));
    }
    for (const image of images) await announceVolume(h.js, image);
    const row = page.locator(`#runs > li[data-run="${run_uid}"]`);
    await row.locator(".count", { hasText: "123 images" }).waitFor({ timeout: 30_000 });
    expect(await row.locator(".title").textContent()).toContain("calibrate");
    expect(await page.locator("#runs > li").count()).toBe(5); // two z_stack volumes, the dark/bright image, the dual volume, the calibration
    expect(await row.locator("li.item").count()).toBe(0); // folded

    await row.locator(".run-head").click();
    expect(await row.locator("li.item").count()).toBe(123);
    await page.screenshot({ path: `${SHOTS}/calibration-run.png` });
    await row.locator(".run-head").click();

    // a link to one of its frames opens the run with that frame selected
    await page.evaluate((uid) => ((globalThis as PageGlobals).location.hash = uid), images[7]!.uid);
    await page.locator(`#runs > li[data-run="${run_uid}"] li.item.selected[data-uid="${images[7]!.uid}"]`).waitFor();
    await shownView(page, `${images[7]!.uid}/slice/0`);
    await row.locator(".run-head").click();

    await page.locator("#filter").fill("calib");
    expect(await page.locator("#runs > li").count()).toBe(1);
    await page.locator("#filter").fill(volume.uid.slice(0, 10));
    expect(await page.locator("#runs > li").count()).toBe(1);
    expect(await page.locator(`#runs li[data-uid="${volume.uid}"]`).count()).toBe(1);
    await page.locator("#filter").fill("no such plan");
    expect(await page.locator("#runs > li").count()).toBe(0);
    await page.locator("#filter").fill("");
  });

  it("shows the running plan's progress in the header", async () => {
    const run = newUid();
    await publishDurable(h.js, subjects.run.progress(run), RunProgress, { run_uid: run, done: 3, total: 12, phase: "acquiring", message: "frame 3/12" }, newUid());
    await page.locator("#run-text", { hasText: "3/12" }).waitFor();
    expect(await page.locator("#run-progress").evaluate((p: PageGlobals) => [p.value, p.max])).toEqual([3, 12]);
  });
});
