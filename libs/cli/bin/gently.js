#!/usr/bin/env node
// The compiled CLI (`npm run build`, as installed and in the image); in a
// checkout not built yet, the TypeScript source through tsx.
import { existsSync } from "node:fs";

const compiled = new URL("../dist/main.js", import.meta.url);
if (existsSync(compiled)) {
  await import(compiled.href);
} else {
  const { tsImport } = await import("tsx/esm/api");
  await tsImport("../src/main.ts", import.meta.url);
}
