// gently viewer: the runs and their volumes (live over Server-Sent Events), a
// full-resolution view of the stored 16-bit samples with zoom, pan, pixel
// readout, scale bar, per-channel LUT, window and gamma, orthogonal XZ/YZ
// sections, detection boxes, the camera's live preview and the microscope's
// state. Plain browser JavaScript modules, no build step.
import { autoWindow, compose, extent, histogram, levelTable, LUTS, lutColour, niceLength } from "./render.js";
import { groupRuns, renderRuns } from "./list.js";

const $ = (id) => document.getElementById(id);

const DEFAULT_LUTS = [["gray"], ["green", "magenta"], ["green", "magenta", "gray"]];
/** Zoom limits, in screen pixels per image pixel. */
const MAX_SCALE = 64;
/** Orthogonal panels' thickness on screen (px). */
const ORTHO_PX = 160;
/** Room left and right of a histogram's range, so a handle at either end can still be grabbed (canvas px). */
const HISTOGRAM_PAD = 6;
/** Planes kept in the page (their samples never change). */
const SAMPLE_CACHE_SIZE = 16;

const state = {
  /** uid -> list entry (a DataStore item or a volume.written body; failed volumes with `failed`) */
  entries: new Map(),
  /** run keys whose items are unfolded */
  expanded: new Set(),
  selected: null,
  /** GET /api/images/{uid} of the selected image */
  meta: null,
  /** "slice" | "mip" | "live" */
  mode: "slice",
  /** per channel: { name, visible, lut, min, max, gamma, manual, levels, levelsKey } */
  channels: [],
  /** per channel, what the view shows: { width, height, values }, with `bin` and `frame` for previews */
  layers: [],
  /** screen transform: image pixel (i, j) is drawn at (x + i·scale, y + j·scale) CSS px */
  view: { scale: 1, x: 0, y: 0, fitted: true },
  /** where the XZ/YZ sections cut, in image pixels */
  cross: null,
  /** the XZ and YZ sections at the crossing point, per channel */
  ortho: emptyOrtho(),
  detections: [],
  /** derived uids announced for the selected image but not yet listed by the DataStore */
  awaitedDetections: new Set(),
  run: null,
  /** camera -> { frame: PreviewFrame, values } of the latest preview */
  previews: new Map(),
  /** increments per load so a slow, superseded response never replaces a newer one */
  loadSeq: 0,
  orthoSeq: 0,
  pointer: null,
};

const composite = document.createElement("canvas");
const xzCanvas = document.createElement("canvas");
const yzCanvas = document.createElement("canvas");

// ---- samples from the server ----------------------------------------------

const sampleCache = new Map();

/** { width, height, values } of a samples route; failed requests are not cached. */
function fetchSamples(url) {
  const cached = sampleCache.get(url);
  if (cached) {
    sampleCache.delete(url);
    sampleCache.set(url, cached);
    return cached;
  }
  const pending = (async () => {
    const res = await fetch(url);
    if (!res.ok) {
      const body = await res.json().catch(() => ({}));
      throw new Error(body.error?.message ?? `${res.status} ${res.statusText}`);
    }
    const width = Number(res.headers.get("X-Gently-Width"));
    const height = Number(res.headers.get("X-Gently-Height"));
    const buffer = await res.arrayBuffer();
    const values = res.headers.get("X-Gently-Dtype") === "uint8" ? new Uint8Array(buffer) : new Uint16Array(buffer);
    return { width, height, values };
  })();
  pending.catch(() => sampleCache.delete(url));
  sampleCache.set(url, pending);
  while (sampleCache.size > SAMPLE_CACHE_SIZE) sampleCache.delete(sampleCache.keys().next().value);
  return pending;
}

function planeUrl(c) {
  const { uid } = state.meta;
  return state.mode === "mip" ? `/api/images/${uid}/mip.bin?c=${c}` : `/api/images/${uid}/slice/${$("z").value}.bin?c=${c}`;
}

// ---- the list -------------------------------------------------------------

function addEntry(entry, { live }) {
  const known = state.entries.get(entry.uid);
  state.entries.set(entry.uid, { ...known, ...entry });
  scheduleList();
  if (live && $("follow").checked && !entry.failed) select(entry.uid, { explicit: false });
}

let listFrame = 0;
/** A calibration announces frames quickly: the list is rebuilt at most once per animation frame. */
function scheduleList() {
  if (listFrame) return;
  listFrame = requestAnimationFrame(() => {
    listFrame = 0;
    renderList();
  });
}

function renderList() {
  renderRuns($("runs"), groupRuns([...state.entries.values()], $("filter").value), {
    selected: state.selected,
    expanded: state.expanded,
    onSelect: (uid) => select(uid, { explicit: true }),
    onToggle: (key) => {
      if (state.expanded.has(key)) state.expanded.delete(key);
      else state.expanded.add(key);
      renderList();
    },
  });
}

async function loadList() {
  try {
    const res = await fetch("/api/volumes?limit=1000");
    const body = await res.json();
    if (!res.ok) throw new Error(body.error?.message ?? res.statusText);
    for (const item of body.items) addEntry(item, { live: false });
    $("list-note").hidden = true;
  } catch (err) {
    $("list-note").textContent = `Index not available (${err.message}); new volumes still appear here live.`;
    $("list-note").hidden = false;
  }
}

// ---- selecting an image ---------------------------------------------------

async function select(uid, { explicit }) {
  const leavingLive = explicit && state.mode === "live";
  if (leavingLive) {
    // the cameras' channels give way to the image's own
    state.mode = "slice";
    state.channels = [];
  }
  if (state.selected === uid && state.meta) {
    if (leavingLive) await showSelected(null);
    return;
  }
  const previous = state.meta;
  // a link or a click opens the run the image belongs to; following newest leaves runs folded
  const entry = state.entries.get(uid);
  if (explicit && entry?.run_uid) state.expanded.add(entry.run_uid);
  state.selected = uid;
  state.meta = null;
  state.detections = [];
  state.awaitedDetections.clear();
  if (location.hash.slice(1) !== uid) history.replaceState(null, "", `#${uid}`);
  renderList();
  showError(null);
  try {
    const res = await fetch(`/api/images/${encodeURIComponent(uid)}`);
    const body = await res.json();
    if (state.selected !== uid) return;
    if (!res.ok) throw new Error(body.error?.message ?? res.statusText);
    state.meta = body;
  } catch (err) {
    if (state.selected === uid) showError(err.message);
    return;
  }
  renderMeta(state.meta);
  $("tab-slice").disabled = false;
  $("tab-mip").hidden = !(state.meta.geometry?.size_z > 1);
  $("raw-link").href = `/api/images/${uid}/raw`;
  if (state.mode !== "live") await showSelected(previous?.geometry ?? null);
}

function channelNamesOf(meta) {
  const n = meta.geometry.size_c;
  return meta.channels.length === n ? meta.channels : Array.from({ length: n }, (_, c) => `channel ${c}`);
}

/** Sets the controls up for the selected image and shows it; z, crossing point and zoom carry over from an image of the same shape. */
async function showSelected(previousGeometry) {
  const g = state.meta.geometry;
  if (!g) {
    showError("this item has no readable image file");
    return;
  }
  const sameShape = previousGeometry?.size_x === g.size_x && previousGeometry?.size_y === g.size_y;
  if (!sameShape) state.view.fitted = true;
  setUpChannels(channelNamesOf(state.meta));
  const z = $("z");
  z.max = String(g.size_z - 1);
  if (previousGeometry?.size_z !== g.size_z) z.value = String(Math.floor(g.size_z / 2));
  state.ortho = emptyOrtho();
  if (!state.cross || !sameShape) state.cross = { x: Math.floor(g.size_x / 2), y: Math.floor(g.size_y / 2) };
  setMode(g.size_z > 1 ? state.mode : "slice");
  await loadPlanes();
  loadDetections();
}

/** Channel settings survive a change of image with the same channels: a timelapse keeps its contrast. */
function setUpChannels(names) {
  const same = state.channels.length === names.length && state.channels.every((ch, c) => ch.name === names[c]);
  if (!same) {
    const luts = DEFAULT_LUTS[Math.min(names.length, DEFAULT_LUTS.length) - 1] ?? ["gray"];
    state.channels = names.map((name, c) => ({ name, visible: true, lut: luts[c] ?? "gray", min: 0, max: 1, gamma: 1, manual: false, levels: null, levelsKey: "" }));
    buildChannelPanels();
  }
}

function setMode(mode) {
  state.mode = mode;
  for (const m of ["slice", "mip", "live"]) $(`tab-${m}`).setAttribute("aria-selected", String(mode === m));
  const g = state.meta?.geometry;
  const volume = mode !== "live" && g && g.size_z > 1;
  $("tab-mip").hidden = !(g && g.size_z > 1);
  $("z-field").hidden = !(mode === "slice" && volume);
  $("meta-details").hidden = mode === "live" || !state.meta;
  $("show-ortho").parentElement.hidden = !volume;
  $("show-detections").parentElement.hidden = mode === "live";
  $("tab-slice").disabled = !state.meta;
  $("empty").hidden = true;
  $("work").hidden = false;
  $("zoom").hidden = false;
  $("below").hidden = false;
  layOutWork();
  if (mode === "live") showLive();
}

function layOutWork() {
  const ortho = orthoShown();
  $("work").classList.toggle("with-ortho", ortho);
  $("xz-panel").hidden = !ortho;
  $("yz-panel").hidden = !ortho;
}

function orthoShown() {
  const g = state.meta?.geometry;
  return state.mode !== "live" && !!g && g.size_z > 1 && $("show-ortho").checked;
}

/** Fetches the planes the mode and z ask for (every channel, for the readout), then redraws. */
async function loadPlanes() {
  if (!state.meta?.geometry || state.mode === "live") return;
  const seq = ++state.loadSeq;
  const uid = state.meta.uid;
  const key = state.mode === "mip" ? `${uid}/mip` : `${uid}/slice/${$("z").value}`;
  updateZLabel();
  // a first MIP is computed from every plane: say so when a load takes a moment
  const busy = setTimeout(() => ($("busy").hidden = seq !== state.loadSeq), 200);
  try {
    const layers = await Promise.all(state.channels.map((_, c) => fetchSamples(planeUrl(c))));
    if (seq !== state.loadSeq) return;
    clearTimeout(busy);
    $("busy").hidden = true;
    state.layers = layers;
    showError(null);
    showLayers(key);
    loadOrtho();
  } catch (err) {
    if (seq === state.loadSeq) {
      clearTimeout(busy);
      $("busy").hidden = true;
      showError(err.message);
    }
  }
}

/** Draws state.layers: auto windows first, then composite, view, histograms and readout. */
function showLayers(key) {
  for (const [c, ch] of state.channels.entries()) {
    const layer = state.layers[c];
    if (!ch.manual && layer) Object.assign(ch, autoWindow(layer.values));
  }
  const { width, height } = state.layers[0];
  if (state.view.fitted || composite.width !== width || composite.height !== height) {
    composite.width = width;
    composite.height = height;
    state.view.fitted = true;
  }
  renderComposite();
  $("view").dataset.shown = key;
  for (const c of state.channels.keys()) {
    updateChannelInputs(c);
    drawHistogram(c);
  }
  updateReadout();
}

function levelsOf(ch) {
  const key = `${ch.min}:${ch.max}:${ch.gamma}`;
  if (ch.levelsKey !== key) {
    ch.levels = levelTable(ch.min, ch.max, ch.gamma);
    ch.levelsKey = key;
  }
  return ch.levels;
}

function visibleLayers(layersOf) {
  return state.channels.flatMap((ch, c) => (ch.visible && layersOf[c] ? [{ values: layersOf[c].values, levels: levelsOf(ch), lut: LUTS[ch.lut] }] : []));
}

function paint(canvas, layersOf) {
  const first = layersOf.find(Boolean);
  if (!first) return;
  if (canvas.width !== first.width || canvas.height !== first.height) {
    canvas.width = first.width;
    canvas.height = first.height;
  }
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(first.width, first.height);
  compose(visibleLayers(layersOf), image.data);
  ctx.putImageData(image, 0, 0);
}

function renderComposite() {
  if (state.layers.length === 0) return;
  paint(composite, state.layers);
  drawView();
  paintOrtho();
}

// ---- the view: zoom, pan, overlays ----------------------------------------

function fit() {
  const stage = $("stage");
  const w = composite.width;
  const h = composite.height;
  const scale = Math.min(stage.clientWidth / w, stage.clientHeight / h);
  state.view = { scale, x: (stage.clientWidth - w * scale) / 2, y: (stage.clientHeight - h * scale) / 2, fitted: true };
}

function zoomAt(factor, sx, sy) {
  const v = state.view;
  const stage = $("stage");
  const minScale = Math.min(stage.clientWidth / composite.width, stage.clientHeight / composite.height) / 4;
  const scale = Math.min(MAX_SCALE, Math.max(minScale, v.scale * factor));
  state.view = { scale, x: sx - ((sx - v.x) * scale) / v.scale, y: sy - ((sy - v.y) * scale) / v.scale, fitted: false };
  drawView();
  drawOrtho();
}

function sizeCanvas(canvas, element) {
  const width = Math.max(1, Math.round(element.clientWidth * devicePixelRatio));
  const height = Math.max(1, Math.round(element.clientHeight * devicePixelRatio));
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(devicePixelRatio, 0, 0, devicePixelRatio, 0, 0);
  return ctx;
}

function drawView() {
  if (composite.width === 0 || state.layers.length === 0) return;
  if (state.view.fitted) fit();
  const { scale, x, y } = state.view;
  const canvas = $("view");
  const ctx = sizeCanvas(canvas, $("stage"));
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  // Pixels stay square blocks when magnified; a reduced view is smoothed so noise does not alias.
  ctx.imageSmoothingEnabled = scale < 1;
  ctx.drawImage(composite, x, y, composite.width * scale, composite.height * scale);
  if (state.mode !== "live") {
    drawDetections(ctx);
    if (orthoShown() && state.cross) drawCross(ctx);
  }
  drawScaleBar(ctx);
  // the transform, for anyone mapping image pixels to the screen (tests, tools)
  Object.assign(canvas.dataset, { scale: String(scale), x: String(x), y: String(y) });
  // screen pixels per camera pixel: a preview pixel stands for bin × bin of them
  $("zoom-value").value = `${Math.round((scale * 100) / (state.layers[0].bin ?? 1))} %`;
}

/** Size of one shown pixel at the sample (µm), or null when the image does not say. */
function pixelSizeUm() {
  if (state.mode === "live") return state.layers[0]?.frame.pixel_size_um ?? null;
  const size = state.meta?.metadata?.pixel_size_um;
  return typeof size === "number" && size > 0 ? size : null;
}

function zStepUm() {
  const step = state.meta?.metadata?.z_step_um;
  return typeof step === "number" && step > 0 ? step : null;
}

function drawScaleBar(ctx) {
  const pixelUm = pixelSizeUm();
  if (!pixelUm) return;
  const stage = $("stage");
  const umPerScreenPx = pixelUm / state.view.scale;
  const lengthUm = niceLength(umPerScreenPx, 120);
  const lengthPx = lengthUm / umPerScreenPx;
  const label = lengthUm >= 1000 ? `${lengthUm / 1000} mm` : `${lengthUm} µm`;
  const right = stage.clientWidth - 16;
  const bottom = stage.clientHeight - 16;
  ctx.font = "600 12px system-ui, sans-serif";
  ctx.fillStyle = "rgba(0, 0, 0, 0.55)";
  ctx.fillRect(right - lengthPx - 8, bottom - 26, lengthPx + 16, 34);
  ctx.fillStyle = "#fff";
  ctx.fillRect(right - lengthPx, bottom - 4, lengthPx, 4);
  ctx.textAlign = "center";
  ctx.fillText(label, right - lengthPx / 2, bottom - 10);
  $("view").dataset.scaleBar = label;
}

function drawCross(ctx) {
  const { scale, x, y } = state.view;
  ctx.strokeStyle = "rgba(255, 214, 10, 0.6)";
  ctx.lineWidth = 1;
  ctx.setLineDash([4, 4]);
  ctx.beginPath();
  const cx = x + (state.cross.x + 0.5) * scale;
  const cy = y + (state.cross.y + 0.5) * scale;
  ctx.moveTo(cx, y);
  ctx.lineTo(cx, y + composite.height * scale);
  ctx.moveTo(x, cy);
  ctx.lineTo(x + composite.width * scale, cy);
  ctx.stroke();
  ctx.setLineDash([]);
}

/** The newest detection of the image: a re-detection replaces the boxes of the one before. */
function latestDetection() {
  return state.detections.reduce((latest, d) => (!latest || String(d.created) > String(latest.created) ? d : latest), null);
}

function drawDetections(ctx) {
  const detection = latestDetection();
  if (!detection || !$("show-detections").checked) return;
  const { scale, x, y } = state.view;
  ctx.lineWidth = 2;
  ctx.font = "12px system-ui, sans-serif";
  ctx.textAlign = "left";
  ctx.strokeStyle = ctx.fillStyle = "#ffcc00";
  for (const box of detection.boxes) {
    ctx.strokeRect(x + box.x0 * scale, y + box.y0 * scale, (box.x1 - box.x0) * scale, (box.y1 - box.y0) * scale);
    const label = [box.label, box.confidence !== undefined ? box.confidence.toFixed(2) : null].filter(Boolean).join(" ");
    if (label) ctx.fillText(label, x + box.x0 * scale + 3, y + box.y0 * scale - 4);
  }
}

// ---- pixel readout --------------------------------------------------------

function imagePixelAt(sx, sy) {
  const { scale, x, y } = state.view;
  return { i: Math.floor((sx - x) / scale), j: Math.floor((sy - y) / scale) };
}

function updateReadout() {
  const out = $("readout");
  const first = state.layers[0];
  if (!first || !state.pointer) {
    out.textContent = first ? "Point at the image for x, y and values; wheel to zoom, drag to pan." : "";
    return;
  }
  const { i, j } = imagePixelAt(state.pointer.x, state.pointer.y);
  if (i < 0 || j < 0 || i >= first.width || j >= first.height) {
    out.textContent = "outside the image";
    return;
  }
  const bin = first.bin ?? 1;
  const pixelUm = pixelSizeUm();
  const parts = [bin > 1 ? `x ${i * bin} y ${j * bin} px (frame; preview pixel ${i}, ${j})` : `x ${i} y ${j} px`];
  if (pixelUm) parts.push(`${(i * pixelUm).toFixed(2)}, ${(j * pixelUm).toFixed(2)} µm`);
  const values = state.channels.map((ch, c) => {
    const layer = state.layers[c];
    return layer ? `${state.channels.length > 1 ? `${ch.name} ` : "value "}${layer.values[j * layer.width + i]}` : null;
  });
  parts.push(values.filter(Boolean).join(" · "));
  if (state.mode === "slice" && state.meta?.geometry?.size_z > 1) parts.push(zText());
  out.textContent = parts.join("  ·  ");
  out.dataset.x = String(i);
  out.dataset.y = String(j);
}

// ---- z --------------------------------------------------------------------

/** The slice's z in µm: the position the file records for it, else its distance from the first slice. */
function zUmOf(z) {
  const recorded = state.meta?.plane_z_um?.[z];
  if (typeof recorded === "number") return recorded;
  const step = zStepUm();
  return step ? z * step : null;
}

function zText() {
  const zUm = zUmOf(Number($("z").value));
  return zUm === null ? `z ${$("z").value}` : `z ${zUm.toFixed(2)} µm`;
}

function updateZLabel() {
  const g = state.meta?.geometry;
  if (!g) return;
  const z = Number($("z").value);
  const step = zStepUm();
  $("z-value").value = [zUmOf(z) === null ? null : zText(), `slice ${z + 1}/${g.size_z}`].filter(Boolean).join(" · ");
  $("z-value").title = step ? `slices ${step.toFixed(2)} µm apart` : "";
}

// ---- orthogonal sections --------------------------------------------------

/** Nothing loaded: sections by kind ("xz", "yz"), each with the row or column it cuts at. */
function emptyOrtho() {
  return { xz: [], yz: [], at: { xz: null, yz: null } };
}

function loadOrtho() {
  if (!orthoShown() || !state.cross) return;
  const seq = ++state.orthoSeq;
  const { uid } = state.meta;
  const { x, y } = state.cross;
  // each section shows as soon as it is there: a YZ reads every plane whole, an XZ one row of each
  loadSection(seq, "xz", y, `/api/images/${uid}/xz/${y}.bin`);
  loadSection(seq, "yz", x, `/api/images/${uid}/yz/${x}.bin`);
}

async function loadSection(seq, kind, at, url) {
  const panel = $(`${kind}-panel`);
  panel.classList.add("loading");
  try {
    const layers = await Promise.all(state.channels.map((_, c) => fetchSamples(`${url}?c=${c}`)));
    if (seq !== state.orthoSeq) return;
    state.ortho[kind] = layers;
    state.ortho.at[kind] = at;
    paintOrtho();
  } catch (err) {
    if (seq === state.orthoSeq) showError(err.message);
  } finally {
    if (seq === state.orthoSeq) panel.classList.remove("loading");
  }
}

function paintOrtho() {
  if (!orthoShown()) return;
  if (state.ortho.xz.length > 0) paint(xzCanvas, state.ortho.xz);
  if (state.ortho.yz.length > 0) paint(yzCanvas, state.ortho.yz);
  drawOrtho();
}

/**
 * The sections share the view's transform along x (XZ, below) and y (YZ,
 * beside), so a structure lines up with the slice; z is drawn at its true
 * scale (z step / pixel size) unless the stack would not fit the panel.
 */
function drawOrtho() {
  if (!orthoShown()) return;
  const g = state.meta.geometry;
  const { scale, x, y } = state.view;
  const aspect = (zStepUm() ?? 1) / (pixelSizeUm() ?? 1);
  const zScale = Math.min(scale * aspect, (ORTHO_PX - 8) / g.size_z);
  const z = Number($("z").value);

  $("xz").dataset.zScale = String(zScale);
  const squeeze = (scale * aspect) / zScale;
  const zNote = squeeze > 1.05 ? ` · z shown ${squeeze.toFixed(1)}× shorter` : "";
  const { at } = state.ortho;
  $("xz-caption").textContent = at.xz === null ? "XZ" : `XZ at y ${at.xz}${zNote}`;
  $("yz-caption").textContent = at.yz === null ? "YZ" : `YZ at x ${at.yz}${zNote}`;
  const xzCtx = sizeCanvas($("xz"), $("xz-panel"));
  xzCtx.fillStyle = "#000";
  xzCtx.fillRect(0, 0, $("xz-panel").clientWidth, ORTHO_PX);
  xzCtx.imageSmoothingEnabled = scale < 1;
  if (at.xz !== null) xzCtx.drawImage(xzCanvas, x, 4, g.size_x * scale, g.size_z * zScale);
  const yzCtx = sizeCanvas($("yz"), $("yz-panel"));
  yzCtx.fillStyle = "#000";
  yzCtx.fillRect(0, 0, ORTHO_PX, $("yz-panel").clientHeight);
  yzCtx.imageSmoothingEnabled = scale < 1;
  if (at.yz !== null) yzCtx.drawImage(yzCanvas, 4, y, g.size_z * zScale, g.size_y * scale);
  if (state.mode === "slice") {
    xzCtx.strokeStyle = yzCtx.strokeStyle = "rgba(255, 214, 10, 0.6)";
    xzCtx.beginPath();
    xzCtx.moveTo(x, 4 + (z + 0.5) * zScale);
    xzCtx.lineTo(x + g.size_x * scale, 4 + (z + 0.5) * zScale);
    xzCtx.stroke();
    yzCtx.beginPath();
    yzCtx.moveTo(4 + (z + 0.5) * zScale, y);
    yzCtx.lineTo(4 + (z + 0.5) * zScale, y + g.size_y * scale);
    yzCtx.stroke();
  }
}

// ---- channels: toggles, LUTs, histograms ----------------------------------

function buildChannelPanels() {
  $("channels").replaceChildren(
    ...state.channels.map((ch, c) => {
      const panel = document.createElement("fieldset");
      panel.className = "channel";
      panel.dataset.c = String(c);
      panel.innerHTML = `
        <legend>
          <label><input type="checkbox" class="visible" checked> <span class="name"></span></label>
          <select class="lut" aria-label="lookup table">${Object.keys(LUTS).map((n) => `<option>${n}</option>`).join("")}</select>
          <button type="button" class="auto" title="0.01th to 99.99th percentile of what is shown">auto</button>
        </legend>
        <canvas class="histogram" width="300" height="56" title="drag the handles to set min and max"></canvas>
        <div class="channel-row">
          <label>min <input type="number" class="min" min="0" max="65535" step="1"></label>
          <label>max <input type="number" class="max" min="1" max="65535" step="1"></label>
          <label title="gamma">γ <input type="range" class="gamma" min="0.2" max="3" step="0.05" value="1"><output class="gamma-value">1.00</output></label>
        </div>`;
      panel.querySelector(".name").textContent = ch.name;
      const q = (cls) => panel.querySelector(`.${cls}`);
      q("visible").addEventListener("change", () => {
        ch.visible = q("visible").checked;
        renderComposite();
      });
      q("lut").value = ch.lut;
      q("lut").addEventListener("change", () => {
        ch.lut = q("lut").value;
        renderComposite();
        drawHistogram(c);
      });
      for (const bound of ["min", "max"]) {
        q(bound).addEventListener("change", () => setWindow(c, { [bound]: Number(q(bound).value) }));
      }
      q("gamma").addEventListener("input", () => {
        ch.gamma = Number(q("gamma").value);
        q("gamma-value").value = ch.gamma.toFixed(2);
        scheduleRender(c);
      });
      q("auto").addEventListener("click", () => {
        ch.manual = false;
        const layer = state.layers[c];
        if (layer) Object.assign(ch, autoWindow(layer.values));
        updateChannelInputs(c);
        renderComposite();
        drawHistogram(c);
      });
      wireHistogram(q("histogram"), c);
      return panel;
    }),
  );
}

function panelOf(c) {
  return $("channels").querySelector(`.channel[data-c="${c}"]`);
}

function updateChannelInputs(c) {
  const panel = panelOf(c);
  const ch = state.channels[c];
  if (!panel) return;
  panel.querySelector(".min").value = String(Math.round(ch.min));
  panel.querySelector(".max").value = String(Math.round(ch.max));
  panel.querySelector(".auto").classList.toggle("active", !ch.manual);
}

/** Sets a channel's window by hand (it then holds across slices and images until "auto"); min stays below max. */
function setWindow(c, { min, max }) {
  const ch = state.channels[c];
  if (min !== undefined && Number.isFinite(min)) ch.min = Math.max(0, Math.min(65534, Math.round(min)));
  if (max !== undefined && Number.isFinite(max)) ch.max = Math.max(1, Math.min(65535, Math.round(max)));
  if (ch.max <= ch.min) {
    if (min !== undefined) ch.max = ch.min + 1;
    else ch.min = ch.max - 1;
  }
  ch.manual = true;
  updateChannelInputs(c);
  scheduleRender(c);
}

let renderFrame = 0;
const histogramsToDraw = new Set();
/** Coalesces a drag's many changes into one render per animation frame. */
function scheduleRender(c) {
  histogramsToDraw.add(c);
  if (renderFrame) return;
  renderFrame = requestAnimationFrame(() => {
    renderFrame = 0;
    renderComposite();
    for (const h of histogramsToDraw) drawHistogram(h);
    histogramsToDraw.clear();
  });
}

/** The value range a histogram spans: the data's extent and the window, so both handles are always on it. */
function histogramRange(c) {
  const ch = state.channels[c];
  const layer = state.layers[c];
  if (!layer) return null;
  layer.extent ??= extent(layer.values);
  return { lo: Math.min(layer.extent.lo, ch.min), hi: Math.max(layer.extent.hi, ch.max) };
}

function drawHistogram(c, range = histogramRange(c)) {
  const panel = panelOf(c);
  const layer = state.layers[c];
  if (!panel || !layer || !range) return;
  const canvas = panel.querySelector(".histogram");
  const ctx = canvas.getContext("2d");
  const { width, height } = canvas;
  const ch = state.channels[c];
  const inner = width - 2 * HISTOGRAM_PAD;
  // never more bins than values, so a narrow range shows bars, not a comb
  const bins = Math.min(inner, range.hi - range.lo + 1);
  const counts = histogram(layer.values, range.lo, range.hi, bins);
  const barPx = inner / bins;
  const top = Math.log1p(counts.reduce((m, n) => Math.max(m, n), 0));
  ctx.fillStyle = "#101214";
  ctx.fillRect(0, 0, width, height);
  ctx.fillStyle = lutColour(ch.lut);
  ctx.globalAlpha = 0.75;
  for (let b = 0; b < bins; b++) {
    const h = top > 0 ? (Math.log1p(counts[b]) / top) * (height - 14) : 0;
    ctx.fillRect(HISTOGRAM_PAD + b * barPx, height - h, Math.max(1, barPx - (barPx > 3 ? 1 : 0)), h);
  }
  ctx.globalAlpha = 1;
  const at = (v) => HISTOGRAM_PAD + ((v - range.lo) / Math.max(1, range.hi - range.lo)) * (inner - 1);
  // the mapping: dark at min, full at max, bent by gamma
  ctx.strokeStyle = "#e4e6e8";
  ctx.lineWidth = 1;
  ctx.beginPath();
  for (let k = 0; k <= 32; k++) {
    const t = k / 32;
    const px = at(ch.min) + t * (at(ch.max) - at(ch.min));
    const py = height - 1 - Math.pow(t, ch.gamma) * (height - 16);
    if (k === 0) ctx.moveTo(px, py);
    else ctx.lineTo(px, py);
  }
  ctx.stroke();
  for (const [v, label] of [
    [ch.min, "min"],
    [ch.max, "max"],
  ]) {
    const px = Math.round(at(v)) + 0.5;
    ctx.strokeStyle = ctx.fillStyle = "#4fa3ff";
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.moveTo(px, 10);
    ctx.lineTo(px, height);
    ctx.stroke();
    ctx.beginPath();
    ctx.moveTo(px - 5, 0);
    ctx.lineTo(px + 5, 0);
    ctx.lineTo(px, 9);
    ctx.fill();
    canvas.dataset[label] = String(Math.round(px));
  }
  canvas.dataset.lo = String(range.lo);
  canvas.dataset.hi = String(range.hi);
}

/** Dragging on a histogram moves the nearer of its min and max handles; the span is held while dragging. */
function wireHistogram(canvas, c) {
  let drag = null;
  const valueAt = (e) => {
    const rect = canvas.getBoundingClientRect();
    const px = ((e.clientX - rect.left) / rect.width) * canvas.width;
    return drag.range.lo + ((px - HISTOGRAM_PAD) / (canvas.width - 2 * HISTOGRAM_PAD - 1)) * (drag.range.hi - drag.range.lo);
  };
  canvas.addEventListener("pointerdown", (e) => {
    const range = histogramRange(c);
    if (!range) return;
    const ch = state.channels[c];
    drag = { range, bound: null };
    const v = valueAt(e);
    drag.bound = Math.abs(v - ch.min) <= Math.abs(v - ch.max) ? "min" : "max";
    canvas.setPointerCapture(e.pointerId);
    setWindow(c, { [drag.bound]: v });
  });
  canvas.addEventListener("pointermove", (e) => {
    if (drag) setWindow(c, { [drag.bound]: valueAt(e) });
  });
  const end = () => {
    drag = null;
    drawHistogram(c);
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
}

// ---- metadata and errors --------------------------------------------------

function renderMeta(meta) {
  const m = meta.metadata ?? {};
  const position = m.position;
  const rows = [
    ["uid", meta.uid],
    ["plan", m.plan_name],
    ["type", meta.data_type],
    ["shape", Array.isArray(meta.shape) ? meta.shape.join("×") : undefined],
    ["dtype", meta.dtype],
    ["channels", meta.channels?.join(", ")],
    ["session", meta.session_id],
    ["run", meta.run_uid],
    ["created", meta.created],
    ["pixel size", typeof m.pixel_size_um === "number" ? `${m.pixel_size_um} µm` : undefined],
    ["z step", typeof m.z_step_um === "number" ? `${m.z_step_um} µm` : undefined],
    ["exposure", typeof m.exposure_ms === "number" ? `${m.exposure_ms} ms` : undefined],
    ["lasers", m.laser_config],
    ["stage", position && typeof position.x_um === "number" ? `x ${position.x_um.toFixed(1)}, y ${position.y_um.toFixed(1)}, z ${position.z_um.toFixed(1)} µm` : undefined],
    ["size", typeof meta.bytes === "number" ? sizeText(meta.bytes) : undefined],
    ["from", meta.source === "datastore" ? "DataStore" : "file (not indexed yet)"],
  ];
  $("meta").replaceChildren(
    ...rows
      .filter(([, v]) => v !== undefined && v !== null && v !== "")
      .flatMap(([k, v]) => {
        const dt = document.createElement("dt");
        dt.textContent = k;
        const dd = document.createElement("dd");
        dd.textContent = String(v);
        return [dt, dd];
      }),
  );
}

function sizeText(bytes) {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  return `${(bytes / 1e3).toFixed(1)} kB`;
}

function showError(message) {
  $("error").hidden = !message;
  $("error").textContent = message ?? "";
}

// ---- detections -----------------------------------------------------------

async function loadDetections(attempt = 0) {
  const uid = state.selected;
  if (!uid) return;
  const res = await fetch(`/api/detections/${uid}`);
  if (state.selected !== uid) return;
  if (!res.ok) {
    $("detection-count").textContent = "(unavailable)";
    return;
  }
  const body = await res.json();
  state.detections = body.detections;
  for (const d of body.detections) state.awaitedDetections.delete(d.uid);
  // The DataStore indexes an announced item a moment after the announcement: ask again shortly.
  if (state.awaitedDetections.size > 0 && attempt < 10) setTimeout(() => loadDetections(attempt + 1), 300);
  const latest = latestDetection();
  $("detection-count").textContent = latest ? `(${latest.boxes.length})` : "";
  $("detection-count").title = state.detections.length > 1 ? `the latest of ${state.detections.length} detections` : "";
  drawView();
}

// ---- live preview ---------------------------------------------------------

/** A preview's base64 little-endian uint16 samples. */
function decodePreview(frame) {
  const bytes = Uint8Array.from(atob(frame.pixels), (ch) => ch.charCodeAt(0));
  return new Uint16Array(bytes.buffer, 0, frame.width * frame.height);
}

function onPreview(frame) {
  // a new acquisition replaces what the cameras of an earlier one showed last
  for (const [camera, { frame: last }] of state.previews) if (last.acq_id !== frame.acq_id) state.previews.delete(camera);
  state.previews.set(frame.camera, { frame, values: decodePreview(frame) });
  drawCameraCard(frame);
  if (state.mode === "live") showLive();
  // on the screen once the next animation frame is painted: that is where frame-to-screen latency ends
  requestAnimationFrame(() => showLatency(frame));
}

function showLatency(frame) {
  const latencyMs = Date.now() - frame.published_us / 1000;
  const canvas = $("camera-thumbs").querySelector(`canvas[data-camera="${frame.camera}"]`);
  if (!canvas) return; // a newer acquisition's preview replaced this camera's meanwhile
  canvas.dataset.seq = String(frame.seq);
  canvas.dataset.latencyMs = latencyMs.toFixed(1);
  $("camera-caption").textContent = `${frame.camera} · ${frame.source} · frame ${frame.seq} · z ${frame.z_index} · piezo ${frame.piezo_um.toFixed(2)} µm · ${frame.exposure_ms} ms · ${Math.max(0, latencyMs).toFixed(0)} ms behind`;
}

/** The aside's small copy of each camera's latest preview, on its own auto contrast. */
function drawCameraCard(frame) {
  $("camera-card").hidden = false;
  const thumbs = $("camera-thumbs");
  for (const stale of thumbs.querySelectorAll("canvas")) if (!state.previews.has(stale.dataset.camera)) stale.remove();
  let canvas = thumbs.querySelector(`canvas[data-camera="${frame.camera}"]`);
  if (!canvas) {
    canvas = document.createElement("canvas");
    canvas.dataset.camera = frame.camera;
    canvas.title = frame.camera;
    thumbs.append(canvas);
  }
  const { values } = state.previews.get(frame.camera);
  canvas.width = frame.width;
  canvas.height = frame.height;
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(frame.width, frame.height);
  const w = autoWindow(values);
  compose([{ values, levels: levelTable(w.min, w.max, 1), lut: LUTS.gray }], image.data);
  ctx.putImageData(image, 0, 0);
}

function showLive() {
  const cameras = [...state.previews.keys()].sort();
  if (cameras.length === 0) {
    state.layers = [];
    const ctx = sizeCanvas($("view"), $("stage"));
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, $("stage").clientWidth, $("stage").clientHeight);
    $("readout").textContent = "No camera is streaming now: previews appear here while an acquisition, a snap or live view runs.";
    return;
  }
  const names = state.channels.map((ch) => ch.name);
  if (names.join() !== cameras.join()) {
    setUpChannels(cameras);
    state.view.fitted = true;
  }
  state.layers = cameras.map((camera) => {
    const { frame, values } = state.previews.get(camera);
    return { width: frame.width, height: frame.height, values, bin: frame.bin, frame };
  });
  if (state.layers.some((l) => l.width !== state.layers[0].width || l.height !== state.layers[0].height)) state.layers = [state.layers[0]];
  showLayers(`live/${cameras.map((camera) => state.previews.get(camera).frame.seq).join(",")}`);
}

// ---- device state and run progress ----------------------------------------

function onDeviceState(device) {
  $("device").hidden = false;
  const p = device.position;
  $("dev-stage").textContent = `${p.x_um.toFixed(1)}, ${p.y_um.toFixed(1)}, ${p.z_um.toFixed(1)} µm`;
  $("dev-piezo").textContent = `${p.piezo_um.toFixed(2)} µm`;
  $("dev-galvo").textContent = `${p.galvo_a_deg.toFixed(3)}° / ${p.galvo_b_deg.toFixed(3)}°`;
  $("dev-laser").textContent = device.laser;
  $("dev-laser").classList.toggle("on", device.laser !== "ALL OFF");
  $("dev-led").textContent = device.led;
  const a = device.activity;
  $("dev-activity").textContent = a ? `${a.kind}${a.plan_name ? ` (${a.plan_name})` : ""} · ${a.frames_done}${a.frames_total ? `/${a.frames_total}` : ""} frames` : "idle";
}

function showRun(update) {
  state.run = { ...(state.run?.run_uid === update.run_uid ? state.run : {}), ...update };
  const run = state.run;
  $("run").hidden = false;
  $("run-label").textContent = run.plan_name ? `${run.plan_name}` : `run ${run.run_uid.slice(0, 8)}`;
  const progress = $("run-progress");
  progress.max = run.total > 0 ? run.total : 1;
  progress.value = run.total > 0 ? run.done : run.phase === "done" ? 1 : 0;
  const parts = [run.phase];
  if (run.total > 0) parts.push(`${run.done}/${run.total}`);
  // The last progress message already says how the run ended; the stop document's status is the fallback.
  if (run.message) parts.push(run.message);
  else if (run.exit_status) parts.push(run.exit_status);
  $("run-text").textContent = parts.filter(Boolean).join(" · ");
}

// ---- live events ----------------------------------------------------------

function connectEvents() {
  const events = new EventSource("/api/events");
  const live = $("live");
  events.addEventListener("open", () => {
    live.textContent = "live";
    live.className = "live on";
  });
  events.addEventListener("error", () => {
    live.textContent = "reconnecting…";
    live.className = "live off";
  });
  const on = (name, fn) => events.addEventListener(name, (e) => fn(JSON.parse(e.data)));
  on("volume.written", ({ body }) => addEntry(body, { live: true }));
  on("volume.failed", ({ body }) => addEntry({ uid: body.uid, run_uid: body.run_uid, session_id: body.session_id, failed: true, reason: body.reason, created: body.failed }, { live: true }));
  on("derived.written", ({ body }) => {
    if (body.data_type === "detection" && body.parent_uid === state.selected) {
      state.awaitedDetections.add(body.uid);
      loadDetections();
    }
  });
  on("run.progress", ({ body }) => showRun(body));
  on("run.doc", ({ run_uid, kind, body }) => {
    if (kind === "start") showRun({ run_uid, plan_name: body.plan_name, phase: "running", done: 0, total: body.num_points });
    if (kind === "stop") showRun({ run_uid, plan_name: body.plan_name, phase: "done", exit_status: body.exit_status });
  });
  on("device.state", onDeviceState);
  on("device.preview", onPreview);
  return events;
}

// ---- wiring ---------------------------------------------------------------

function wireView() {
  const stage = $("stage");
  let press = null;
  stage.addEventListener(
    "wheel",
    (e) => {
      if (state.layers.length === 0) return;
      e.preventDefault();
      const rect = stage.getBoundingClientRect();
      zoomAt(Math.exp(-e.deltaY * 0.0015), e.clientX - rect.left, e.clientY - rect.top);
      updateReadout();
    },
    { passive: false },
  );
  stage.addEventListener("pointerdown", (e) => {
    press = { x: e.clientX, y: e.clientY, viewX: state.view.x, viewY: state.view.y, moved: false };
    stage.setPointerCapture(e.pointerId);
  });
  stage.addEventListener("pointermove", (e) => {
    const rect = stage.getBoundingClientRect();
    state.pointer = { x: e.clientX - rect.left, y: e.clientY - rect.top };
    if (press) {
      const dx = e.clientX - press.x;
      const dy = e.clientY - press.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) press.moved = true;
      if (press.moved) {
        state.view = { ...state.view, x: press.viewX + dx, y: press.viewY + dy, fitted: false };
        drawView();
        drawOrtho();
      }
    }
    updateReadout();
  });
  stage.addEventListener("pointerup", () => {
    if (press && !press.moved && orthoShown() && state.pointer) {
      const { i, j } = imagePixelAt(state.pointer.x, state.pointer.y);
      if (i >= 0 && j >= 0 && i < composite.width && j < composite.height) {
        state.cross = { x: i, y: j };
        drawView();
        loadOrtho();
      }
    }
    press = null;
  });
  stage.addEventListener("pointerleave", () => {
    state.pointer = null;
    updateReadout();
  });
  stage.addEventListener("dblclick", () => {
    state.view.fitted = true;
    drawView();
    drawOrtho();
  });
  const centre = () => [stage.clientWidth / 2, stage.clientHeight / 2];
  $("zoom-in").addEventListener("click", () => zoomAt(1.5, ...centre()));
  $("zoom-out").addEventListener("click", () => zoomAt(1 / 1.5, ...centre()));
  $("zoom-1").addEventListener("click", () => zoomAt(1 / (state.view.scale * devicePixelRatio), ...centre()));
  $("zoom-fit").addEventListener("click", () => {
    state.view.fitted = true;
    drawView();
    drawOrtho();
  });
  new ResizeObserver(() => {
    drawView();
    drawOrtho();
  }).observe(stage);
}

function wire() {
  let zFrame = 0;
  $("z").addEventListener("input", () => {
    updateZLabel();
    // Coalesce a fast drag into at most one request per animation frame.
    cancelAnimationFrame(zFrame);
    zFrame = requestAnimationFrame(loadPlanes);
  });
  for (const mode of ["slice", "mip"]) {
    $(`tab-${mode}`).addEventListener("click", () => {
      if (!state.meta) return;
      if (state.mode === "live") {
        // back from live view: the selected image's channels, z and shape again
        state.mode = mode;
        state.channels = [];
        showSelected(null);
        return;
      }
      setMode(mode);
      loadPlanes();
    });
  }
  $("tab-live").addEventListener("click", () => setMode("live"));
  $("open-live").addEventListener("click", () => setMode("live"));
  $("show-ortho").addEventListener("change", () => {
    layOutWork();
    drawView();
    loadOrtho();
  });
  $("show-detections").addEventListener("change", drawView);
  // z by keyboard, as in Fiji's stacks: ← and → (or , and .) one slice, outside text fields
  document.addEventListener("keydown", (e) => {
    if (e.target instanceof HTMLInputElement && e.target.type !== "checkbox") return; // sliders and fields keep their own keys
    if (e.target instanceof HTMLSelectElement || state.mode !== "slice" || $("z-field").hidden) return;
    const step = { ArrowLeft: -1, ",": -1, ArrowRight: 1, ".": 1 }[e.key];
    if (!step) return;
    e.preventDefault();
    const z = $("z");
    const next = Math.min(Number(z.max), Math.max(0, Number(z.value) + step));
    if (next === Number(z.value)) return;
    z.value = String(next);
    z.dispatchEvent(new Event("input"));
  });
  $("filter").addEventListener("input", renderList);
  window.addEventListener("hashchange", () => {
    const uid = location.hash.slice(1);
    if (uid && uid !== state.selected) select(uid, { explicit: true });
  });
  wireView();
}

wire();
connectEvents();
loadList().then(() => {
  const fromHash = location.hash.slice(1);
  if (fromHash) select(fromHash, { explicit: true });
});
