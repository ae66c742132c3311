import { statSync } from "node:fs";
import { openRing, type Ring } from "@gently/ring";

interface Entry {
  ring: Ring;
  /** identity of the file mapped: the hardware service re-creates the ring (new inode) on restart */
  ino: number;
  dev: number;
  users: number;
}

/**
 * Rings mapped by path, shared by the acquisitions that use them. A ring file
 * replaced since it was mapped (same path, new inode) is mapped afresh; the
 * old mapping is closed once no acquisition uses it.
 */
export class RingCache {
  private readonly current = new Map<string, Entry>();
  private readonly retired = new Set<Entry>();

  /** Maps (or reuses) the ring at `path`; pair every call with `put`. */
  take(path: string): Ring {
    const st = statSync(path);
    let entry = this.current.get(path);
    if (entry && (entry.ino !== st.ino || entry.dev !== st.dev)) {
      this.current.delete(path);
      this.retire(entry);
      entry = undefined;
    }
    if (!entry) {
      entry = { ring: openRing(path), ino: st.ino, dev: st.dev, users: 0 };
      this.current.set(path, entry);
    }
    entry.users++;
    return entry.ring;
  }

  put(ring: Ring): void {
    for (const entry of [...this.current.values(), ...this.retired]) {
      if (entry.ring !== ring) continue;
      entry.users--;
      if (this.retired.has(entry) && entry.users === 0) {
        this.retired.delete(entry);
        entry.ring.close();
      }
      return;
    }
  }

  closeAll(): void {
    for (const entry of [...this.current.values(), ...this.retired]) entry.ring.close();
    this.current.clear();
    this.retired.clear();
  }

  private retire(entry: Entry): void {
    if (entry.users === 0) entry.ring.close();
    else this.retired.add(entry);
  }
}
