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

/** Waits until the viewer shows the view named `key` ("<uid>/slice/<z>", "<uid>/mip" or "live/<seq>"). */
export async function shownView(page: Page, key: string): Promise<void> {
  await page.waitForFunction((k) => (globalThis as PageGlobals).document.getElementById("view").dataset.shown === k, key);
}

/** Page coordinates (CSS px) of the centre of image pixel (i, j) in the main view, from the view's transform. */
export async function screenOf(page: Page, i: number, j: number): Promise<{ x: number; y: number }> {
  return page.evaluate(
    ([pi, pj]) => {
      const { document } = globalThis as PageGlobals;
      const view = document.getElementById("view");
      const rect = view.getBoundingClientRect();
      const scale = Number(view.dataset.scale);
      return { x: rect.left + Number(view.dataset.x) + (pi + 0.5) * scale, y: rect.top + Number(view.dataset.y) + (pj + 0.5) * scale };
    },
    [i, j],
  );
}

/** [r, g, b] the page shows at page coordinates (x, y) of a canvas (the main view by default). */
export async function colourAt(page: Page, at: { x: number; y: number }, canvasId = "view"): Promise<number[]> {
  return page.evaluate(
    ([p, id]) => {
      const { document, devicePixelRatio } = globalThis as PageGlobals;
      const canvas = document.getElementById(id);
      const rect = canvas.getBoundingClientRect();
      const data = canvas.getContext("2d").getImageData(Math.floor((p.x - rect.left) * devicePixelRatio), Math.floor((p.y - rect.top) * devicePixelRatio), 1, 1).data;
      return [data[0], data[1], data[2]];
    },
    [at, canvasId] as const,
  );
}

/** [r, g, b] of image pixel (i, j) as the main view draws it. */
export async function colourOfPixel(page: Page, i: number, j: number): Promise<number[]> {
  return colourAt(page, await screenOf(page, i, j));
}
