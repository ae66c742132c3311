import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
import path from "node:path";

/**
 * The import rules of the layout, checked over the source tree's import
 * graph: services never import one another, libraries never import a
 * service, libs/protocol imports nothing internal, and production code
 * (a package's src/ and bin/, tests excluded) never imports test support
 * (libs/testing, a package's test/ or bench/ folder, the repository's
 * tests/ and bench/, a *.test.ts file), and production code imports only
 * packages its package.json declares.
 */
export interface ImportViolation {
  rule: "service-imports-service" | "lib-imports-service" | "protocol-imports-internal" | "production-imports-test-support" | "undeclared-dependency";
  /** importing file, relative to the root */
  file: string;
  /** the specifier as written */
  specifier: string;
  /** the imported file or package folder, relative to the root */
  target: string;
}

interface WorkspacePackage {
  name: string;
  /** folder relative to the root, e.g. services/writer */
  dir: string;
  /** what its package.json declares (dependencies and devDependencies) */
  declared: Set<string>;
}

const BUILTINS = new Set(builtinModules);

/** The package a bare specifier names: "@scope/name" or "name", without a subpath. */
function packageNameOf(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
}

const SOURCE_EXTENSIONS = [".ts", ".mts", ".mjs", ".js", ".cjs"];
const SKIPPED_FOLDERS = new Set(["node_modules", "public", "dist", "build", ".git"]);
const SCANNED_TOP_FOLDERS = ["libs", "services", "bench", "tests"];

const IMPORT_PATTERNS = [
  /(?:^|[;\n}])\s*(?:import|export)\s[^;]*?\sfrom\s*["']([^"']+)["']/g,
  /(?:^|[;\n])\s*import\s*["']([^"']+)["']/g,
  /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g,
  /\brequire\s*\(\s*["']([^"']+)["']\s*\)/g,
];

/** Every module specifier a source file names in a static or dynamic import, an export-from or a require. */
export function importSpecifiers(source: string): string[] {
  const withoutComments = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`\\])\/\/.*$/gm, "$1");
  const found = new Set<string>();
  for (const pattern of IMPORT_PATTERNS) {
    for (const match of withoutComments.matchAll(pattern)) found.add(match[1]);
  }
  return [...found];
}

function workspacePackages(root: string): WorkspacePackage[] {
  const packages: WorkspacePackage[] = [];
  for (const top of ["libs", "services"]) {
    const topDir = path.join(root, top);
    if (!existsSync(topDir)) continue;
    for (const entry of readdirSync(topDir)) {
      const manifest = path.join(topDir, entry, "package.json");
      if (!existsSync(manifest)) continue;
      const { name, dependencies = {}, devDependencies = {} } = JSON.parse(readFileSync(manifest, "utf8")) as {
        name: string;
        dependencies?: Record<string, string>;
        devDependencies?: Record<string, string>;
      };
      packages.push({ name, dir: `${top}/${entry}`, declared: new Set([...Object.keys(dependencies), ...Object.keys(devDependencies)]) });
    }
  }
  return packages;
}

function sourceFiles(root: string, relativeDir: string, out: string[]): void {
  const dir = path.join(root, relativeDir);
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir)) {
    if (SKIPPED_FOLDERS.has(entry)) continue;
    const relative = `${relativeDir}/${entry}`;
    if (statSync(path.join(root, relative)).isDirectory()) sourceFiles(root, relative, out);
    else if (SOURCE_EXTENSIONS.some((ext) => entry.endsWith(ext)) && !entry.endsWith(".d.ts")) out.push(relative);
  }
}

function packageOf(file: string, packages: WorkspacePackage[]): WorkspacePackage | undefined {
  return packages.find((pkg) => file === pkg.dir || file.startsWith(`${pkg.dir}/`));
}

function isTestSupport(target: string, packages: WorkspacePackage[]): boolean {
  if (/\.test\.[cm]?[jt]s$/.test(target)) return true;
  if (target.startsWith("tests/") || target.startsWith("bench/")) return true;
  const pkg = packageOf(target, packages);
  if (!pkg) return false;
  if (pkg.dir === "libs/testing") return true;
  const inside = target.slice(pkg.dir.length + 1);
  return inside.startsWith("test/") || inside.startsWith("bench/");
}

/** Production code: a package's src/ or bin/, not a test, not libs/testing. */
function isProduction(file: string, pkg: WorkspacePackage | undefined): boolean {
  if (!pkg || pkg.dir === "libs/testing") return false;
  if (/\.test\.[cm]?[jt]s$/.test(file)) return false;
  const inside = file.slice(pkg.dir.length + 1);
  return inside.startsWith("src/") || inside.startsWith("bin/");
}

/** The repository path an internal specifier points at, or undefined for an external package or builtin. */
function resolveInternal(file: string, specifier: string, packages: WorkspacePackage[]): string | undefined {
  if (specifier.startsWith(".")) {
    return path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier));
  }
  const pkg = packages.find((candidate) => specifier === candidate.name || specifier.startsWith(`${candidate.name}/`));
  return pkg ? pkg.dir : undefined;
}

export function checkImportRules(root: string): ImportViolation[] {
  const packages = workspacePackages(root);
  const files: string[] = [];
  for (const top of SCANNED_TOP_FOLDERS) sourceFiles(root, top, files);
  const violations: ImportViolation[] = [];
  for (const file of files) {
    const from = packageOf(file, packages);
    for (const specifier of importSpecifiers(readFileSync(path.join(root, file), "utf8"))) {
      const bare = !specifier.startsWith(".") && !specifier.startsWith("node:") && !BUILTINS.has(packageNameOf(specifier));
      if (bare && from && isProduction(file, from) && packageNameOf(specifier) !== from.name && !from.declared.has(packageNameOf(specifier))) {
        violations.push({ rule: "undeclared-dependency", file, specifier, target: `${from.dir}/package.json` });
      }
      const target = resolveInternal(file, specifier, packages);
      if (target === undefined) continue;
      const to = packageOf(target, packages);
      const report = (rule: ImportViolation["rule"]) => violations.push({ rule, file, specifier, target });
      if (from && to && from !== to && from.dir.startsWith("services/") && to.dir.startsWith("services/")) {
        report("service-imports-service");
      }
      if (from && from.dir.startsWith("libs/") && to?.dir.startsWith("services/")) report("lib-imports-service");
      if (from?.dir === "libs/protocol" && to !== from) report("protocol-imports-internal");
      if (isProduction(file, from) && isTestSupport(target, packages)) report("production-imports-test-support");
    }
  }
  return violations;
}

function resolveFile(root: string, target: string): string | undefined {
  const base = target.replace(/\.js$/, "");
  for (const candidate of [target, ...SOURCE_EXTENSIONS.map((ext) => base + ext), ...SOURCE_EXTENSIONS.map((ext) => `${base}/index${ext}`)]) {
    if (existsSync(path.join(root, candidate)) && statSync(path.join(root, candidate)).isFile()) return candidate;
  }
  return undefined;
}

/**
 * Import cycles among the files of one package (relative imports, type-only
 * ones included: a cycle is a design knot whatever the emitted code), each
 * as the files around it.
 */
export function importCycles(root: string, packageDir: string): string[][] {
  const files: string[] = [];
  sourceFiles(root, packageDir, files);
  const edges = new Map<string, string[]>();
  for (const file of files) {
    const targets = importSpecifiers(readFileSync(path.join(root, file), "utf8"))
      .filter((specifier) => specifier.startsWith("."))
      .map((specifier) => resolveFile(root, path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier))))
      .filter((target): target is string => target !== undefined);
    edges.set(file, targets);
  }
  const cycles: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (file: string) => {
    state.set(file, "open");
    stack.push(file);
    for (const next of edges.get(file) ?? []) {
      if (state.get(next) === "open") cycles.push(stack.slice(stack.indexOf(next)));
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, "done");
  };
  for (const file of files) if (!state.has(file)) visit(file);
  return cycles;
}

export function describeViolation(violation: ImportViolation): string {
  return `${violation.rule}: ${violation.file} imports "${violation.specifier}" (${violation.target})`;
}
