import { statSync } from "node:fs";
import { openRing, type Ring } from "@gently/ring";

interface Entry {
  ring: Ring;
  /** identity of the file mapped (the hardware service re-creates the ring, a new inode, on restart); null for a Windows mapping */
  identity: string | null;
  users: number;
}

/**
 * A Windows named mapping has no inode, and while the writer holds it the
 * hardware cannot replace it with one of another size: so there it is held
 * only while acquisitions use it (identity null), and mapped afresh for the next.
 */
function identityOf(path: string): string | null {
  if (process.platform === "win32") return null;
  const st = statSync(path);
  return `${st.dev}:${st.ino}`;
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
    const identity = identityOf(path);
    let entry = this.current.get(path);
    if (entry && entry.identity !== identity) {
      this.current.delete(path);
      this.retire(entry);
      entry = undefined;
    }
    if (!entry) {
      entry = { ring: openRing(path), identity, users: 0 };
      this.current.set(path, entry);
    }
    entry.users++;
    return entry.ring;
  }

  put(ring: Ring): void {
    for (const entry of [...this.current.values(), ...this.retired]) {
      if (entry.ring !== ring) continue;
      entry.users--;
      if (entry.users > 0) return;
      if (this.retired.delete(entry)) entry.ring.close();
      else if (entry.identity === null) {
        this.current.delete(entry.ring.path);
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
