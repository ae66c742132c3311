import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import koffi, { type LibraryHandle } from "koffi";

/** Directory holding the native libraries: native/build (Linux), native/build/windows (Windows DLLs from `make -C native windows`). */
export function nativeDirectory(): string {
  const override = process.env.GENTLY_NATIVE_DIR;
  if (override) return override;
  // libs/native/src -> repository root -> native/build
  const build = process.platform === "win32" ? "../../../native/build/windows/" : "../../../native/build/";
  return fileURLToPath(new URL(build, import.meta.url));
}

/** File name of a native library on this platform: gently_ring.dll on Windows, libgently_ring.so elsewhere. */
export function nativeLibraryFile(name: string): string {
  return process.platform === "win32" ? `${name}.dll` : `lib${name}.so`;
}

/**
 * Path of a native library in nativeDirectory() (e.g. name "gently_ring").
 * Throws with instructions when the library has not been built.
 */
export function nativeLibraryPath(name: string): string {
  const dir = nativeDirectory();
  const fileName = nativeLibraryFile(name);
  const file = join(dir, fileName);
  if (!existsSync(file)) {
    const source = process.env.GENTLY_NATIVE_DIR ? " (from GENTLY_NATIVE_DIR)" : "";
    const build =
      process.platform === "win32"
        ? "`make -C native windows` (mingw-w64, on Linux or in MSYS2) and copy native/build/windows here, or set GENTLY_NATIVE_DIR"
        : "`npm install` (its postinstall builds native/) or `make -C native`";
    throw new Error(`native library ${fileName} not found in ${dir}${source}: run ${build}`);
  }
  return file;
}

const loaded = new Map<string, LibraryHandle>();

/**
 * Load a native library once per process (koffi keeps it mapped); further
 * calls return the same handle, so every module binds the same instance.
 */
export function loadNativeLibrary(name: string): LibraryHandle {
  const file = nativeLibraryPath(name);
  let lib = loaded.get(file);
  if (!lib) {
    lib = koffi.load(file);
    loaded.set(file, lib);
  }
  return lib;
}

/** Text of a NUL-terminated C string written into buf. */
export function cString(buf: Buffer): string {
  const end = buf.indexOf(0);
  return buf.toString("utf8", 0, end < 0 ? buf.length : end);
}
