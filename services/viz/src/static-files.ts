import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ServerResponse } from "node:http";

const PUBLIC_DIR = fileURLToPath(new URL("../public/", import.meta.url));

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
};

/**
 * The web page's files, loaded once at start. Only names listed in public/
 * can be served, so no URL can reach any other file.
 */
export class StaticFiles {
  private constructor(private readonly files: Map<string, { type: string; body: Buffer }>) {}

  static async load(dir = PUBLIC_DIR): Promise<StaticFiles> {
    const files = new Map<string, { type: string; body: Buffer }>();
    for (const name of await readdir(dir)) {
      const type = TYPES[path.extname(name)];
      if (type) files.set(name, { type, body: await readFile(path.join(dir, name)) });
    }
    return new StaticFiles(files);
  }

  /** Serves /name (and / as index.html); false when there is no such file. */
  serve(pathname: string, res: ServerResponse): boolean {
    const name = pathname === "/" ? "index.html" : pathname.slice(1);
    const file = this.files.get(name);
    if (!file) return false;
    res.writeHead(200, { "Content-Type": file.type, "Content-Length": file.body.length, "Cache-Control": "no-cache" });
    res.end(file.body);
    return true;
  }
}
