import { TiffVolume } from "@gently/preview";

interface Entry {
  volume: Promise<TiffVolume>;
  users: number;
  evicted: boolean;
}

/**
 * Keeps the last few volumes open: scrubbing a z slider re-reads the same
 * file many times, and its IFD chain is then walked only once. Files are
 * immutable once written, so an open handle never goes stale. An evicted
 * volume closes when its last reader is done.
 */
export class VolumeCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly capacity = 8) {}

  async use<T>(path: string, fn: (volume: TiffVolume) => Promise<T>): Promise<T> {
    let entry = this.entries.get(path);
    if (entry) {
      this.entries.delete(path); // re-insert: most recently used last
    } else {
      entry = { volume: TiffVolume.open(path), users: 0, evicted: false };
    }
    this.entries.set(path, entry);
    this.evictBeyondCapacity();
    entry.users++;
    try {
      const volume = await entry.volume;
      return await fn(volume);
    } catch (err) {
      if (this.entries.get(path) === entry && (await entry.volume.then(() => false, () => true))) this.entries.delete(path);
      throw err;
    } finally {
      entry.users--;
      if (entry.evicted && entry.users === 0) void closeQuietly(entry);
    }
  }

  async close(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(all.map(closeQuietly));
  }

  private evictBeyondCapacity(): void {
    while (this.entries.size > this.capacity) {
      const [oldestPath, oldest] = this.entries.entries().next().value as [string, Entry];
      this.entries.delete(oldestPath);
      oldest.evicted = true;
      if (oldest.users === 0) void closeQuietly(oldest);
    }
  }
}

async function closeQuietly(entry: Entry): Promise<void> {
  await entry.volume.then((v) => v.close(), () => undefined);
}
