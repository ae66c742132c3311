import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import koffi, { type LibraryHandle } from "koffi";

/** Directory holding the native libraries built by `make -C native`. */
export function nativeDirectory(): string {
  const override = process.env.GENTLY_NATIVE_DIR;
  if (override) return override;
  // libs/ring/src -> repository root -> native/build
  return fileURLToPath(new URL("../../../native/build/", import.meta.url));
}

/**
 * Path of native/build/lib<name>.so (e.g. name "gently_ring"). Throws with
 * instructions when the library has not been built.
 */
export function nativeLibraryPath(name: string): string {
  const dir = nativeDirectory();
  const file = join(dir, `lib${name}.so`);
  if (!existsSync(file)) {
    const source = process.env.GENTLY_NATIVE_DIR ? " (from GENTLY_NATIVE_DIR)" : "";
    throw new Error(
      `native library lib${name}.so not found in ${dir}${source}: run \`npm install\` ` +
        "(its postinstall builds native/) or `make -C native`",
    );
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
