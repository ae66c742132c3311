#!/usr/bin/env node
// The gently CLI is TypeScript; tsx loads it without a build step.
import { tsImport } from "tsx/esm/api";

await tsImport("../src/main.ts", import.meta.url);
