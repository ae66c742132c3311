// gently viewer: a live list of volumes (Server-Sent Events), a slice and MIP
// viewer with contrast controls, detection boxes over the image, and the
// progress of the current plan. Plain browser JavaScript, no build step.
"use strict";

const $ = (id) => document.getElementById(id);

const state = {
  /** uid -> list entry (VolumeWritten-like: uid, data_type, shape, session_id, created, failed?) */
  volumes: new Map(),
  selected: null,
  /** metadata of the selected image (GET /api/images/{uid}) */
  meta: null,
  mode: "slice",
  /** increments per image request so a slow, superseded PNG never replaces a newer one */
  imageRequest: 0,
  detections: [],
  /** derived uids announced for the selected image but not yet listed by the DataStore */
  awaitedDetections: new Set(),
  run: null,
};

// ---- volume list ----------------------------------------------------------

function shapeText(shape) {
  return Array.isArray(shape) ? shape.join("×") : "";
}

function timeText(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleTimeString();
}

function addVolume(entry, { live }) {
  const known = state.volumes.get(entry.uid);
  state.volumes.set(entry.uid, { ...known, ...entry });
  renderList();
  if (live && $("follow").checked && !entry.failed) select(entry.uid);
}

function renderList() {
  const list = $("volumes");
  const entries = [...state.volumes.values()].sort((a, b) => String(b.created ?? "").localeCompare(String(a.created ?? "")));
  list.replaceChildren(
    ...entries.map((v) => {
      const li = document.createElement("li");
      li.dataset.uid = v.uid;
      if (v.failed) li.classList.add("failed");
      if (v.uid === state.selected) li.classList.add("selected");
      const title = document.createElement("div");
      title.className = "title";
      title.textContent = v.failed ? `${v.uid} — failed` : `${v.data_type ?? "volume"} ${shapeText(v.shape)}`;
      const sub = document.createElement("div");
      sub.className = "sub";
      sub.textContent = v.failed ? v.reason ?? "" : `${timeText(v.created)} · ${v.session_id ?? ""} · ${v.uid.slice(0, 8)}`;
      li.append(title, sub);
      if (!v.failed) {
        li.tabIndex = 0;
        li.addEventListener("click", () => select(v.uid));
        li.addEventListener("keydown", (e) => {
          if (e.key === "Enter") select(v.uid);
        });
      }
      return li;
    }),
  );
}

async function loadList() {
  try {
    const res = await fetch("/api/volumes?limit=200");
    const body = await res.json();
    if (!res.ok) throw new Error(body.error?.message ?? res.statusText);
    for (const item of body.items) addVolume(item, { live: false });
    $("list-note").hidden = true;
  } catch (err) {
    $("list-note").textContent = `Index not available (${err.message}); new volumes still appear here live.`;
    $("list-note").hidden = false;
  }
}

// ---- viewer ---------------------------------------------------------------

async function select(uid) {
  if (state.selected === uid && state.meta) return;
  state.selected = uid;
  state.meta = null;
  state.detections = [];
  state.awaitedDetections.clear();
  history.replaceState(null, "", `#${uid}`);
  renderList();
  showError(null);
  const res = await fetch(`/api/images/${uid}`);
  const body = await res.json();
  if (state.selected !== uid) return;
  if (!res.ok) {
    showError(body.error?.message ?? res.statusText);
    return;
  }
  state.meta = body;
  setUpControls(body);
  renderMeta(body);
  refreshImage();
  loadDetections();
}

function setUpControls(meta) {
  const g = meta.geometry;
  $("empty").hidden = true;
  $("controls").hidden = !g;
  $("stage").hidden = !g;
  if (!g) return;
  const z = $("z");
  z.max = String(g.size_z - 1);
  z.value = String(Math.floor(g.size_z / 2));
  $("z-value").value = z.value;
  const channel = $("channel");
  channel.replaceChildren(
    ...Array.from({ length: g.size_c }, (_, c) => {
      const option = document.createElement("option");
      option.value = String(c);
      option.textContent = meta.channels[c] ?? `channel ${c}`;
      return option;
    }),
  );
  $("channel-field").hidden = g.size_c < 2;
  $("raw-link").href = `/api/images/${meta.uid}/raw`;
  setMode(g.size_z > 1 ? state.mode : "slice");
}

function setMode(mode) {
  state.mode = mode;
  $("tab-slice").setAttribute("aria-selected", String(mode === "slice"));
  $("tab-mip").setAttribute("aria-selected", String(mode === "mip"));
  $("z-row").hidden = mode !== "slice";
}

/** Largest power-of-two binning (at most 8) that still gives at least one image pixel per screen pixel. */
function binFor(geometry) {
  const screenPixels = $("stage").clientWidth * devicePixelRatio;
  let bin = 1;
  while (bin < 8 && screenPixels > 0 && geometry.size_x / (bin * 2) >= screenPixels) bin *= 2;
  return bin;
}

function imageUrl() {
  const { uid } = state.meta;
  const params = new URLSearchParams();
  const c = Number($("channel").value || 0);
  if (c > 0) params.set("c", String(c));
  const bin = binFor(state.meta.geometry);
  if (bin > 1) params.set("bin", String(bin));
  if (!$("auto").checked) {
    params.set("min", $("min").value);
    params.set("max", $("max").value);
  }
  const query = params.toString() ? `?${params}` : "";
  return state.mode === "mip" ? `/api/images/${uid}/mip.png${query}` : `/api/images/${uid}/slice/${$("z").value}.png${query}`;
}

async function refreshImage() {
  if (!state.meta?.geometry) return;
  const request = ++state.imageRequest;
  const url = imageUrl();
  try {
    const res = await fetch(url);
    if (!res.ok) {
      const body = await res.json().catch(() => ({}));
      throw new Error(body.error?.message ?? res.statusText);
    }
    const windowHeader = res.headers.get("X-Gently-Window");
    const blob = await res.blob();
    if (request !== state.imageRequest) return;
    const img = $("image");
    const previous = img.src;
    img.src = URL.createObjectURL(blob);
    await img.decode().catch(() => undefined);
    if (previous.startsWith("blob:")) URL.revokeObjectURL(previous);
    img.dataset.src = url;
    if (windowHeader) showWindow(windowHeader);
    showError(null);
    drawOverlay();
  } catch (err) {
    if (request === state.imageRequest) showError(err.message);
  }
}

function showWindow(text) {
  const [min, max] = text.split(",");
  $("window").textContent = `window ${min}–${max}`;
  if ($("auto").checked) {
    $("min").value = min;
    $("max").value = max;
  }
}

function renderMeta(meta) {
  const m = meta.metadata ?? {};
  const rows = [
    ["uid", meta.uid],
    ["type", meta.data_type],
    ["shape", shapeText(meta.shape)],
    ["dtype", meta.dtype],
    ["session", meta.session_id],
    ["run", meta.run_uid],
    ["created", meta.created],
    ["pixel size", m.pixel_size_um !== undefined ? `${m.pixel_size_um} µm` : undefined],
    ["z step", m.z_step_um !== undefined ? `${m.z_step_um} µm` : undefined],
    ["exposure", m.exposure_ms !== undefined ? `${m.exposure_ms} ms` : undefined],
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
  const boxes = state.detections.reduce((n, d) => n + d.boxes.length, 0);
  $("detection-count").textContent = boxes ? `(${boxes})` : "";
  drawOverlay();
}

function drawOverlay() {
  const img = $("image");
  const canvas = $("overlay");
  const g = state.meta?.geometry;
  const width = img.clientWidth;
  const height = img.clientHeight;
  canvas.width = width * devicePixelRatio;
  canvas.height = height * devicePixelRatio;
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (!g || !$("show-detections").checked) return;
  const sx = canvas.width / g.size_x;
  const sy = canvas.height / g.size_y;
  ctx.lineWidth = 2 * devicePixelRatio;
  ctx.font = `${12 * devicePixelRatio}px system-ui, sans-serif`;
  for (const detection of state.detections) {
    for (const box of detection.boxes) {
      ctx.strokeStyle = "#ffcc00";
      ctx.strokeRect(box.x0 * sx, box.y0 * sy, (box.x1 - box.x0) * sx, (box.y1 - box.y0) * sy);
      if (box.label) {
        ctx.fillStyle = "#ffcc00";
        ctx.fillText(box.label, box.x0 * sx + 3, box.y0 * sy - 4);
      }
    }
  }
}

// ---- run progress ---------------------------------------------------------

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
  on("volume.written", ({ body }) => addVolume(body, { live: true }));
  on("volume.failed", ({ body }) => addVolume({ uid: body.uid, failed: true, reason: body.reason, created: body.failed }, { live: true }));
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
  return events;
}

// ---- wiring ---------------------------------------------------------------

function wire() {
  let zTimer = 0;
  $("z").addEventListener("input", () => {
    $("z-value").value = $("z").value;
    // Coalesce a fast drag into at most one request per animation frame.
    cancelAnimationFrame(zTimer);
    zTimer = requestAnimationFrame(refreshImage);
  });
  $("tab-slice").addEventListener("click", () => {
    setMode("slice");
    refreshImage();
  });
  $("tab-mip").addEventListener("click", () => {
    setMode("mip");
    refreshImage();
  });
  $("channel").addEventListener("change", refreshImage);
  $("auto").addEventListener("change", () => {
    $("min").disabled = $("auto").checked;
    $("max").disabled = $("auto").checked;
    refreshImage();
  });
  for (const id of ["min", "max"]) $(id).addEventListener("change", refreshImage);
  $("show-detections").addEventListener("change", drawOverlay);
  window.addEventListener("resize", drawOverlay);
}

wire();
connectEvents();
loadList().then(() => {
  const fromHash = location.hash.slice(1);
  if (fromHash) select(fromHash);
});
