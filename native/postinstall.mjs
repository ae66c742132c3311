// The root package's postinstall: builds native/ with make and the C compiler.
// On Windows there is neither: the DLLs come from `make -C native windows`
// (mingw-w64, on Linux or in MSYS2), copied into native/build/windows.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

if (process.platform === "win32") {
  console.log("gently: on Windows, put the DLLs of `make -C native windows` in native\\build\\windows (README: On the microscope PC)");
  process.exit(0);
}
const built = spawnSync("make", ["-s", "-C", fileURLToPath(new URL(".", import.meta.url))], { stdio: "inherit" });
process.exit(built.status ?? 1);
