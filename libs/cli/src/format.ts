import { table } from "./output";

/** Unit of a field from its name's suffix (piezo_um → µm), as the plans and documents name them. */
const UNITS: Record<string, string> = { um: "µm", deg: "°", ms: "ms", s: "s", pct: "%", px: "px" };

export function unitOfField(key: string): string {
  const ratio = /_(um|deg|ms|s|px)_per_(um|deg|ms|s|px)$/.exec(key);
  if (ratio) return `${UNITS[ratio[1]!]}/${UNITS[ratio[2]!]}`;
  const suffix = /_(um|deg|ms|s|pct|px)$/.exec(key)?.[1];
  return suffix ? UNITS[suffix]! : "";
}

/** A number for people: whole numbers as they are, others to about four significant digits (no 16-digit floats). */
export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Number.isInteger(n)) return String(n);
  const abs = Math.abs(n);
  const text = abs >= 1000 ? n.toFixed(1) : abs >= 1 ? n.toFixed(3) : abs >= 0.001 ? n.toPrecision(4) : n.toExponential(2);
  return text.includes("e") ? text : text.replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, "");
}

/** Bytes in decimal units: 512 B, 12.3 kB, 209.7 MB, 1.24 GB. */
export function formatBytes(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let i = 0;
  while (Math.abs(value) >= 1000 && i < units.length - 1) {
    value /= 1000;
    i++;
  }
  return i === 0 ? `${bytes} B` : `${value.toFixed(value >= 100 ? 0 : value >= 10 ? 1 : 2)} ${units[i]}`;
}

function isBytesField(key: string): boolean {
  return key === "bytes" || key.endsWith("_bytes");
}

/** One value of a named field, with its unit. */
export function formatField(key: string, value: unknown): string {
  if (typeof value === "number") {
    if (isBytesField(key)) return formatBytes(value);
    const unit = unitOfField(key);
    return unit ? `${formatNumber(value)} ${unit}` : formatNumber(value);
  }
  if (Array.isArray(value) && value.every((v) => typeof v === "number")) {
    // a shape reads as 100×512×2048; other lists keep their unit once
    if (key === "shape") return value.join("×");
    const unit = unitOfField(key);
    return value.map(formatNumber).join(", ") + (unit ? ` ${unit}` : "");
  }
  if (value === null || value === undefined) return "-";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** A column header: the field name with its unit in brackets (galvo_deg → galvo_deg [°]). */
function header(key: string): string {
  const unit = isBytesField(key) ? "" : unitOfField(key);
  return unit ? `${key} [${unit}]` : key;
}

/** Rows of objects as an aligned table: one column per field, numbers rounded, units in the header. */
export function objectTable(rows: Record<string, unknown>[]): string {
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (key: string, value: unknown) => (typeof value === "number" && !isBytesField(key) ? formatNumber(value) : formatField(key, value));
  return table([keys.map(header), ...rows.map((r) => keys.map((k) => cell(k, r[k])))]);
}

function isRecordList(value: unknown): value is Record<string, unknown>[] {
  return Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === "object" && v !== null && !Array.isArray(v));
}

/**
 * A plan's result for people: one aligned line per field (nested objects
 * flattened as a.b), lists of records as tables below, numbers rounded with
 * their units, sizes in kB/MB/GB.
 */
export function humanRecord(record: Record<string, unknown>): string {
  const lines: [string, string][] = [];
  const tables: string[] = [];
  const walk = (prefix: string, obj: Record<string, unknown>) => {
    for (const [key, value] of Object.entries(obj)) {
      const name = prefix ? `${prefix}.${key}` : key;
      if (isRecordList(value)) tables.push(`${name}:\n${indent(objectTable(value))}`);
      else if (typeof value === "object" && value !== null && !Array.isArray(value)) walk(name, value as Record<string, unknown>);
      else lines.push([name, formatField(key, value)]);
    }
  };
  walk("", record);
  const width = Math.max(0, ...lines.map(([k]) => k.length));
  return [...lines.map(([k, v]) => `${k.padEnd(width)}  ${v}`), ...tables].join("\n");
}

/** A record on one line for people: "piezo_um=50 µm  laser_config=488 only", nested values as JSON. */
export function inlineRecord(record: Record<string, unknown>): string {
  return Object.entries(record)
    .map(([key, value]) => `${key}=${formatField(key, value)}`)
    .join("  ");
}

function indent(text: string): string {
  return text
    .split("\n")
    .map((l) => `  ${l}`)
    .join("\n");
}
