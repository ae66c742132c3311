/**
 * Run by tests/windows under Windows Node: the writer's Windows file paths
 * (libs/ome-tiff durable-fs) on a real Windows API. Prints one JSON line.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import koffi from "koffi";
import { freeBytes, moveIntoPlace, moveNoReplace } from "@gently/ome-tiff";

const dir = mkdtempSync(path.join(process.argv[2], "durable-"));
const partial = path.join(dir, ".a.partial");
const final = path.join(dir, "a.tif");
writeFileSync(partial, "complete");

// a scanner's handle: open without FILE_SHARE_DELETE, so no move can happen while it is held
const kernel32 = koffi.load("kernel32.dll");
const createFile = kernel32.func("__stdcall", "CreateFileW", "void *", ["str16", "uint32_t", "uint32_t", "void *", "uint32_t", "uint32_t", "void *"]);
const closeHandle = kernel32.func("__stdcall", "CloseHandle", "int", ["void *"]);
const GENERIC_READ = 0x80000000;
const FILE_SHARE_READ = 1;
const OPEN_EXISTING = 3;
const held = createFile(partial, GENERIC_READ, FILE_SHARE_READ, null, OPEN_EXISTING, 0, null);
const releasedAfterMs = 400;
setTimeout(() => closeHandle(held), releasedAfterMs);
const started = Date.now();
await moveIntoPlace(partial, final);
const movedAfterMs = Date.now() - started;

// never replacing: a second file moved onto the same name is refused and stays where it was
const other = path.join(dir, ".b.partial");
writeFileSync(other, "other");
const refused = await moveIntoPlace(other, final).then(() => "moved", (e: NodeJS.ErrnoException) => e.code);
const quarantineRefused = await moveNoReplace(other, final).then(() => "moved", (e: NodeJS.ErrnoException) => e.code);

console.log(
  JSON.stringify({
    dir,
    movedAfterMs,
    releasedAfterMs,
    final: readFileSync(final, "utf8"),
    partialGone: !existsSync(partial),
    refused,
    quarantineRefused,
    otherKept: readFileSync(other, "utf8"),
    free: await freeBytes(dir),
  }),
);
