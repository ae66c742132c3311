import { appendFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { Writable } from "node:stream";

/** How `npm start` writes: JSON log lines (compose, pipes, GENTLY_LOG_FORMAT=json) or a short summary for a person at a terminal. */
export type LogFormat = "json" | "human";

/** GENTLY_LOG_FORMAT when set (json | human), else human on a terminal and JSON everywhere else. */
export function logFormat(env: NodeJS.ProcessEnv = process.env, isTTY = process.stdout.isTTY === true): LogFormat {
  const asked = env.GENTLY_LOG_FORMAT;
  if (asked === "json" || asked === "human") return asked;
  if (asked !== undefined && asked !== "") throw new Error(`GENTLY_LOG_FORMAT must be 'json' or 'human', got '${asked}'`);
  return isTTY ? "human" : "json";
}

interface LogLine {
  level?: number;
  time?: string;
  service?: string;
  msg?: string;
  url?: string;
  port?: number;
  child?: string;
  err?: unknown;
  reason?: string;
}

const LEVEL_NAMES: Record<number, string> = { 40: "warning", 50: "error", 60: "FATAL" };

/**
 * The supervisor's output for a person: every JSON log line (the
 * supervisor's and its services') goes whole to `logFile`; the terminal gets
 * one line per service that comes up, a summary with the viewer's URL once
 * all are up, and warnings and errors as one readable line each.
 */
export class HumanConsole extends Writable {
  private readonly up = new Set<string>();
  private viewerUrl: string | null = null;
  private apiUrl: string | null = null;
  private summarised = false;
  private buffered = "";

  constructor(
    private readonly services: readonly string[],
    readonly logFile: string,
    private readonly terminal: NodeJS.WritableStream = process.stdout,
  ) {
    super();
    mkdirSync(path.dirname(logFile), { recursive: true });
    this.print(`gently: starting ${services.length} services; JSON logs in ${logFile} (GENTLY_LOG_FORMAT=json prints them here)`);
  }

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    this.buffered += chunk.toString();
    let end: number;
    while ((end = this.buffered.indexOf("\n")) >= 0) {
      const line = this.buffered.slice(0, end);
      this.buffered = this.buffered.slice(end + 1);
      if (line.trim() !== "") this.line(line);
    }
    done();
  }

  private line(line: string): void {
    appendFileSync(this.logFile, line + "\n");
    let entry: LogLine;
    try {
      entry = JSON.parse(line) as LogLine;
    } catch {
      this.print(line);
      return;
    }
    const service = entry.service ?? "?";
    if (entry.msg === "viz HTTP server listening" && entry.url) this.viewerUrl = entry.url;
    if (entry.msg === "HTTP API listening" && entry.port) this.apiUrl = `http://127.0.0.1:${entry.port}`;
    if (entry.msg === "started" && this.services.includes(service) && !this.up.has(service)) {
      this.up.add(service);
      this.print(`  ✓ ${service}`);
      if (this.up.size === this.services.length) this.summary();
      return;
    }
    if (entry.msg === "stopping every service") {
      this.print("gently: stopping (lasers off, volumes finished or failed cleanly)…");
      return;
    }
    if (entry.msg === "system stopped") {
      this.print("gently: stopped");
      return;
    }
    if ((entry.level ?? 30) >= 40) this.print(`  ${service} ${LEVEL_NAMES[entry.level!] ?? "warning"}: ${describe(entry)}`);
  }

  private summary(): void {
    if (this.summarised) return;
    this.summarised = true;
    const lines = [`gently is up: ${this.services.join(", ")}`];
    if (this.viewerUrl) lines.push(`  viewer  ${this.viewerUrl}`);
    if (this.apiUrl) lines.push(`  API     ${this.apiUrl}`);
    lines.push("  CLI     npx gently status | acquire | live | --help", "Ctrl-C stops everything (lasers off first).");
    this.print(lines.join("\n"));
  }

  private print(text: string): void {
    this.terminal.write(text + "\n");
  }
}

/** One line for a warning or error: its message, then why. */
function describe(entry: LogLine): string {
  const err = typeof entry.err === "string" ? entry.err : (entry.err as { message?: string } | undefined)?.message;
  const child = entry.child ? ` (${entry.child})` : "";
  return [`${entry.msg ?? ""}${child}`, entry.reason, err].filter(Boolean).join(": ");
}
