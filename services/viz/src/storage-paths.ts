import { mkdir, realpath, stat } from "node:fs/promises";
import path from "node:path";
import { GentlyError, isUid } from "@gently/protocol";
import { LAYOUT, volumePathFor } from "@gently/storage";

/**
 * The only way viz turns a uid or an announced path into a file path. Every
 * path is resolved through realpath and must stay inside its area of the
 * storage root, so neither a crafted uid nor a symlink can reach other files.
 */
export class StoragePaths {
  private constructor(
    readonly root: string,
    private readonly volumesReal: string,
    private readonly derivedReal: string,
  ) {}

  static async open(root: string): Promise<StoragePaths> {
    const resolved = path.resolve(root);
    const volumes = path.join(resolved, LAYOUT.volumes);
    const derived = path.join(resolved, LAYOUT.derived);
    await mkdir(volumes, { recursive: true });
    await mkdir(derived, { recursive: true });
    return new StoragePaths(resolved, await realpath(volumes), await realpath(derived));
  }

  /** Where the writer puts volume {uid}; the file may not exist yet. */
  volumePathOf(uid: string): string {
    assertUid(uid);
    return volumePathFor(this.root, uid);
  }

  /** The real path of volume {uid}'s file; not_found when there is none. */
  async volumeFile(uid: string): Promise<string> {
    return this.inside(this.volumePathOf(uid), this.volumesReal, `volume ${uid}`);
  }

  /** The real path of a derived file announced by another service; refused unless it lies under {storage}/derived. */
  async derivedFile(candidate: string, what: string): Promise<string> {
    return this.inside(path.resolve(this.root, candidate), this.derivedReal, what);
  }

  /**
   * Whether an announced file may be shown to pages: it resolves, symlinks
   * followed, to a regular file under {storage}/volumes (volumes and images)
   * or {storage}/derived (derived items). A forged announcement naming
   * /etc/passwd or secrets/ is not.
   */
  async isAnnouncedDataFile(announced: string, area: "volumes" | "derived"): Promise<boolean> {
    try {
      const real = await this.inside(path.resolve(this.root, announced), area === "volumes" ? this.volumesReal : this.derivedReal, announced);
      return (await stat(real)).isFile();
    } catch {
      return false;
    }
  }

  private async inside(candidate: string, areaReal: string, what: string): Promise<string> {
    let real: string;
    try {
      real = await realpath(candidate);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new GentlyError("not_found", `${what} has no file on disk`);
      throw err;
    }
    if (!real.startsWith(areaReal + path.sep)) {
      throw new GentlyError("not_found", `${what} is outside the storage area`);
    }
    return real;
  }
}

export function assertUid(uid: string, field = "uid"): void {
  if (!isUid(uid)) throw new GentlyError("invalid_request", `${field}: must be a 21-character alphanumeric uid`, field);
}
