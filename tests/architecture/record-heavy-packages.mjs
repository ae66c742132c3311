// Preloaded into every process of a test system (NODE_OPTIONS=--import):
// records which heavy native packages the process has loaded. Both are
// CommonJS, so an ESM import of either lands in require.cache.
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);
const HEAVY = ["better-sqlite3", "onnxruntime-node"];
const dir = process.env.GENTLY_TEST_LOAD_LOG;

function record() {
  const loaded = HEAVY.filter((name) => Object.keys(require.cache).some((file) => file.includes(`${path.sep}node_modules${path.sep}${name}${path.sep}`)));
  writeFileSync(path.join(dir, `${process.pid}.json`), JSON.stringify({ entry: process.argv[1] ?? "", loaded }));
}

if (dir) {
  record();
  setInterval(record, 200).unref();
}
