import { existsSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";

/** Debian's Chromium; the project's setup installs it. */
export const CHROMIUM = "/usr/bin/chromium";
export const HAS_CHROMIUM = existsSync(CHROMIUM);

/** Title for a browser suite; says why when it is skipped. */
export function browserSuite(what: string): string {
  return HAS_CHROMIUM ? `${what} (headless ${CHROMIUM})` : `${what}: SKIPPED, ${CHROMIUM} is missing (./setup.sh --test installs it)`;
}

/** The page's globals inside page.evaluate; this project compiles without the DOM library, so they are typed loosely. */
export type PageGlobals = any;

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/** Grey levels of the shown image (all pixels, or the one at x, y), read back through a canvas at its natural size. */
export function pixelsOf(page: Page, at?: { x: number; y: number }): Promise<number[]> {
  return page.evaluate((point) => {
    const { document } = globalThis as PageGlobals;
    const img = document.getElementById("image");
    const canvas = document.createElement("canvas");
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const ctx = canvas.getContext("2d");
    ctx.drawImage(img, 0, 0);
    const data = point ? ctx.getImageData(point.x, point.y, 1, 1).data : ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    return Array.from(data as number[]).filter((_, i) => i % 4 === 0);
  }, at);
}

export async function pixelOf(page: Page, x: number, y: number): Promise<number> {
  return (await pixelsOf(page, { x, y }))[0];
}

/** Waits until the viewer shows the image fetched from a URL ending in `pathEnd`. */
export async function shownImage(page: Page, pathEnd: string): Promise<void> {
  await page.waitForFunction((end) => {
    const { document } = globalThis as PageGlobals;
    const img = document.getElementById("image");
    return (img.dataset.src ?? "").endsWith(end) && img.complete && img.naturalWidth > 0;
  }, pathEnd);
}
