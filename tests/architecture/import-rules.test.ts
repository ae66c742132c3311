import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { checkImportRules, describeViolation, importCycles, importSpecifiers } from "./import-rules";

const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

describe("import rules", () => {
  it("the repository keeps every rule", () => {
    expect(checkImportRules(REPO_ROOT).map(describeViolation)).toEqual([]);
  });

  it("no package has an import cycle among its files", () => {
    const packages = ["libs", "services"].flatMap((top) => readdirSync(path.join(REPO_ROOT, top)).map((name) => `${top}/${name}`));
    expect(packages.flatMap((dir) => importCycles(REPO_ROOT, dir).map((cycle) => cycle.join(" -> ")))).toEqual([]);
  });

  describe("on a tree that breaks each rule", () => {
    const root = mkdtempSync(path.join(tmpdir(), "gently-import-rules-"));
    afterAll(() => rmSync(root, { recursive: true, force: true }));
    const file = (relative: string, text: string) => {
      mkdirSync(path.dirname(path.join(root, relative)), { recursive: true });
      writeFileSync(path.join(root, relative), text);
    };
    const manifest = (dir: string, name: string, dependencies: Record<string, string> = {}) => file(`${dir}/package.json`, JSON.stringify({ name, dependencies }));
    manifest("libs/protocol", "@gently/protocol", { zod: "^4", "@gently/bus": "*" });
    manifest("libs/bus", "@gently/bus", { "@gently/protocol": "*", "@gently/service-writer": "*" });
    manifest("libs/testing", "@gently/testing");
    manifest("services/writer", "@gently/service-writer", { "@gently/ring": "*" });
    manifest("services/viz", "@gently/service-viz", { "@gently/service-writer": "*", "@gently/testing": "*" });
    file("libs/bus/src/index.ts", 'import { subjects } from "@gently/protocol";\nexport { startWriter } from "@gently/service-writer";\n');
    file("libs/protocol/src/index.ts", 'import { z } from "zod";\nimport { call } from "../../bus/src/index";\n');
    file("services/viz/src/main.ts", 'import type { RunningWriter } from "../../writer/src/index";\nconst w = await import("@gently/service-writer");\n');
    file("services/viz/src/server.ts", 'import {\n  startTestNats,\n} from "@gently/testing";\nimport { harness } from "../test/harness";\n');
    file("services/viz/src/server.test.ts", 'import { startTestNats } from "@gently/testing";\nimport { harness } from "../test/harness";\n');
    file("services/viz/test/harness.ts", 'import { startTestNats } from "@gently/testing";\nimport { startVizServer } from "../src/server";\n');
    file("services/viz/bench/viz-bench.ts", 'import { startTestNats } from "@gently/testing";\n');
    file("services/writer/src/main.ts", '// import { x } from "@gently/service-viz";\nimport { openRing } from "@gently/ring";\nimport path from "node:path";\nimport { readFile } from "fs/promises";\nimport pino from "pino";\n');

    file("libs/bus/src/store.ts", 'import { rebuild } from "./rebuild";\nexport class Store {}\n');
    file("libs/bus/src/rebuild.ts", 'import type { Store } from "./store.js";\nexport function rebuild(s: Store) {}\n');

    it("finds an import cycle, type-only imports included", () => {
      expect(importCycles(root, "libs/bus").map((cycle) => [...cycle].sort())).toEqual([["libs/bus/src/rebuild.ts", "libs/bus/src/store.ts"]]);
    });

    it("reports each broken rule, and nothing that keeps them", () => {
      expect(checkImportRules(root).map(describeViolation).sort()).toEqual(
        [
          'lib-imports-service: libs/bus/src/index.ts imports "@gently/service-writer" (services/writer)',
          'protocol-imports-internal: libs/protocol/src/index.ts imports "../../bus/src/index" (libs/bus/src/index)',
          'service-imports-service: services/viz/src/main.ts imports "../../writer/src/index" (services/writer/src/index)',
          'service-imports-service: services/viz/src/main.ts imports "@gently/service-writer" (services/writer)',
          'production-imports-test-support: services/viz/src/server.ts imports "@gently/testing" (libs/testing)',
          'production-imports-test-support: services/viz/src/server.ts imports "../test/harness" (services/viz/test/harness)',
          'undeclared-dependency: services/writer/src/main.ts imports "pino" (services/writer/package.json)',
        ].sort(),
      );
    });
  });

  it("reads static, dynamic, re-export and require specifiers but not commented ones", () => {
    const source = [
      'import a from "a";',
      'import type {\n  B,\n} from "b";',
      'export { c } from "c";',
      'export * from "d";',
      'import "e";',
      'const f = await import("f");',
      'const g = require("g");',
      '// import h from "h";',
      '/* import i from "i"; */',
      'const url = "http://example.org"; import j from "j";',
    ].join("\n");
    expect(importSpecifiers(source).sort()).toEqual(["a", "b", "c", "d", "e", "f", "g", "j"]);
  });
});
