// The list of what was acquired, grouped by run: one row per run with its
// plan's name, the run's images folded under it (a calibration's or a focus
// sweep's hundred frames are one row until opened).

function shapeText(shape) {
  return Array.isArray(shape) ? shape.join("×") : "";
}

function timeText(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleTimeString();
}

/** Where the sheet was for a frame of a sweep (focus, calibration), when the item says. */
function sheetText(entry) {
  const p = entry.metadata?.position;
  if (!p) return "";
  return [typeof p.piezo_um === "number" && `piezo ${p.piezo_um.toFixed(1)} µm`, typeof p.galvo_deg === "number" && `galvo ${p.galvo_deg.toFixed(3)}°`].filter(Boolean).join(", ");
}

function planOf(entry) {
  return entry.metadata?.plan_name ?? (entry.failed ? "failed" : entry.data_type ?? "volume");
}

function countText(items) {
  const volumes = items.filter((i) => i.data_type === "volume").length;
  const images = items.filter((i) => i.data_type === "image").length;
  const failed = items.filter((i) => i.failed).length;
  return [
    volumes && `${volumes} volume${volumes > 1 ? "s" : ""}`,
    images && `${images} image${images > 1 ? "s" : ""}`,
    failed && `${failed} failed`,
  ]
    .filter(Boolean)
    .join(", ");
}

/** Entries grouped by run (an entry without a run is its own group), newest run first, each run's items oldest first. */
export function groupRuns(entries, filterText) {
  const needle = filterText.trim().toLowerCase();
  const groups = new Map();
  for (const entry of entries) {
    const key = entry.run_uid ?? entry.uid;
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { key, run_uid: entry.run_uid ?? null, items: [] }));
    group.items.push(entry);
  }
  const shown = [];
  for (const group of groups.values()) {
    group.items.sort((a, b) => String(a.created ?? "").localeCompare(String(b.created ?? "")));
    group.plan = planOf(group.items.find((i) => !i.failed) ?? group.items[0]);
    group.session = group.items.find((i) => i.session_id)?.session_id ?? "";
    group.first = group.items[0].created;
    group.last = group.items[group.items.length - 1].created;
    if (needle) {
      const runText = `${group.plan} ${group.session} ${group.run_uid ?? ""}`.toLowerCase();
      if (!runText.includes(needle)) {
        group.items = group.items.filter((i) => `${i.uid} ${i.data_type ?? ""} ${shapeText(i.shape)}`.toLowerCase().includes(needle));
        if (group.items.length === 0) continue;
      }
    }
    shown.push(group);
  }
  return shown.sort((a, b) => String(b.last ?? "").localeCompare(String(a.last ?? "")));
}

/**
 * Renders the groups into `list`. A run of one item is one row; a longer
 * run is a header row (plan, count, time) with its items below it, folded
 * unless `expanded` holds its key.
 */
export function renderRuns(list, groups, { selected, expanded, onSelect, onToggle }) {
  const itemRow = (entry, label) => {
    const li = document.createElement("li");
    li.className = "item";
    li.dataset.uid = entry.uid;
    if (entry.failed) li.classList.add("failed");
    if (entry.uid === selected) li.classList.add("selected");
    const title = document.createElement("div");
    title.className = "title";
    title.textContent = label;
    const sub = document.createElement("div");
    sub.className = "sub";
    sub.textContent = entry.failed ? entry.reason ?? "" : `${timeText(entry.created)} · ${entry.uid.slice(0, 8)}`;
    li.append(title, sub);
    if (!entry.failed) {
      li.tabIndex = 0;
      li.addEventListener("click", (e) => {
        e.stopPropagation();
        onSelect(entry.uid);
      });
      li.addEventListener("keydown", (e) => {
        if (e.key === "Enter") onSelect(entry.uid);
      });
    }
    return li;
  };

  list.replaceChildren(
    ...groups.map((group) => {
      if (group.items.length === 1) {
        const entry = group.items[0];
        const li = itemRow(entry, entry.failed ? `${group.plan} — failed` : group.plan);
        if (!entry.failed) {
          const shape = Object.assign(document.createElement("span"), { className: "count", textContent: shapeText(entry.shape) });
          shape.title = entry.data_type ?? "volume";
          li.querySelector(".title").append(shape);
        }
        li.classList.add("run", "single");
        li.dataset.run = group.key;
        if (group.session) li.querySelector(".sub").textContent += ` · ${group.session}`;
        return li;
      }
      const open = expanded.has(group.key);
      const li = document.createElement("li");
      li.className = "run group";
      li.dataset.run = group.key;
      if (group.items.some((i) => i.uid === selected)) li.classList.add("has-selected");
      const head = document.createElement("button");
      head.type = "button";
      head.className = "run-head";
      head.setAttribute("aria-expanded", String(open));
      const title = document.createElement("div");
      title.className = "title";
      title.innerHTML = `<span class="fold">${open ? "▾" : "▸"}</span> `;
      title.append(document.createTextNode(group.plan), Object.assign(document.createElement("span"), { className: "count", textContent: countText(group.items) }));
      const sub = document.createElement("div");
      sub.className = "sub";
      const first = timeText(group.first);
      const last = timeText(group.last);
      sub.textContent = [first === last ? first : `${first}–${last}`, group.session, group.run_uid && `run ${group.run_uid.slice(0, 8)}`].filter(Boolean).join(" · ");
      head.append(title, sub);
      head.addEventListener("click", () => onToggle(group.key));
      li.append(head);
      if (open) {
        const items = document.createElement("ul");
        items.className = "items";
        items.append(
          ...group.items.map((entry, i) => {
            // a sweep's frames differ in where the sheet was; their type and shape go to the second line
            const sheet = sheetText(entry);
            const row = itemRow(entry, `#${i + 1} · ${sheet || `${entry.data_type ?? "volume"} ${shapeText(entry.shape)}`}`);
            if (sheet && !entry.failed) row.querySelector(".sub").textContent += ` · ${entry.data_type ?? "volume"} ${shapeText(entry.shape)}`;
            return row;
          }),
        );
        li.append(items);
      }
      return li;
    }),
  );
}
