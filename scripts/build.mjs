#!/usr/bin/env node
// `npm run build`: every workspace package (libs/*, services/*, test support
// excepted) compiled to its dist/ by TypeScript project references (tsc -b
// tsconfig.build.json), then made runnable by plain Node: the compiler keeps
// import specifiers as written, so relative ones get their file (./codec ->
// ./codec.js, ./plans -> ./plans/index.js) and @gently/* ones the compiled
// entry of that package (its exports' src/*.ts -> dist/*.js). Files in src/
// that are not TypeScript (a worker's .mjs) are copied beside the output.
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

function packagesBuilt() {
  const { references } = JSON.parse(readFileSync(path.join(ROOT, "tsconfig.build.json"), "utf8"));
  return references.map((ref) => {
    const dir = path.join(ROOT, ref.path);
    const manifest = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8"));
    return { dir, name: manifest.name, exports: manifest.exports ?? { ".": manifest.main } };
  });
}

function filesUnder(dir, keep, out = []) {
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir)) {
    const file = path.join(dir, entry);
    if (statSync(file).isDirectory()) filesUnder(file, keep, out);
    else if (keep(entry)) out.push(file);
  }
  return out;
}

const relativeFrom = (fromDir, target) => {
  const rel = path.relative(fromDir, target).split(path.sep).join("/");
  return rel.startsWith(".") ? rel : `./${rel}`;
};

function compiledEntry(pkg, subpath) {
  const source = pkg.exports[subpath];
  if (typeof source !== "string" || !source.startsWith("./src/")) throw new Error(`${pkg.name}: export ${subpath} is not a file under src/ (${JSON.stringify(source)})`);
  return path.join(pkg.dir, "dist", source.slice("./src/".length).replace(/\.ts$/, ".js"));
}

const SPECIFIER = /(\bfrom\s*|\bimport\s*\(\s*|^\s*import\s*)(["'])(\.{1,2}\/[^"']*|@gently\/[^"']+)\2/gm;

function rewrite(file, packages) {
  const dir = path.dirname(file);
  const text = readFileSync(file, "utf8");
  const out = text.replace(SPECIFIER, (whole, lead, quote, spec) => {
    let resolved;
    if (spec.startsWith(".")) {
      if (/\.(m?js|json)$/.test(spec)) return whole;
      const target = path.resolve(dir, spec);
      if (existsSync(`${target}.js`)) resolved = `${spec}.js`;
      else if (existsSync(path.join(target, "index.js"))) resolved = `${spec}/index.js`;
      else throw new Error(`${path.relative(ROOT, file)}: cannot resolve ${spec}`);
    } else {
      const pkg = packages.find((p) => spec === p.name || spec.startsWith(`${p.name}/`));
      if (!pkg) throw new Error(`${path.relative(ROOT, file)}: ${spec} is not a built package (is it in tsconfig.build.json?)`);
      resolved = relativeFrom(dir, compiledEntry(pkg, spec === pkg.name ? "." : `./${spec.slice(pkg.name.length + 1)}`));
    }
    return `${lead}${quote}${resolved}${quote}`;
  });
  if (out !== text) writeFileSync(file, out);
}

const tsc = spawnSync(process.execPath, [path.join(ROOT, "node_modules/typescript/bin/tsc"), "-b", path.join(ROOT, "tsconfig.build.json")], { stdio: "inherit" });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);
const packages = packagesBuilt();
for (const pkg of packages) {
  const src = path.join(pkg.dir, "src");
  for (const asset of filesUnder(src, (name) => !name.endsWith(".ts"))) {
    const target = path.join(pkg.dir, "dist", path.relative(src, asset));
    mkdirSync(path.dirname(target), { recursive: true });
    copyFileSync(asset, target);
  }
  for (const file of filesUnder(path.join(pkg.dir, "dist"), (name) => name.endsWith(".js"))) rewrite(file, packages);
}
