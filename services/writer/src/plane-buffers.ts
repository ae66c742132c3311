/**
 * A fixed set of plane-sized buffers, reused for the whole acquisition:
 * memory stays constant whatever the volume size. A buffer is taken to copy a
 * frame out of the ring and given back once the disk write of that plane
 * settled, so while one plane is being written the next ones can already be
 * copied and their ring slots released.
 */
export class PlaneBuffers {
  private readonly free: Buffer[] = [];
  private readonly waiters: ((buf: Buffer) => void)[] = [];
  private idleWaiters: (() => void)[] = [];
  readonly count: number;

  /** As many planes as fit in `budgetBytes`, at least two (one being written, one being filled). */
  constructor(readonly planeBytes: number, budgetBytes: number, maxCount = 64) {
    this.count = Math.max(2, Math.min(maxCount, Math.floor(budgetBytes / planeBytes)));
    for (let i = 0; i < this.count; i++) this.free.push(Buffer.allocUnsafeSlow(planeBytes));
  }

  /** Resolves with a buffer as soon as one is free. */
  take(): Promise<Buffer> {
    const buf = this.free.pop();
    if (buf) return Promise.resolve(buf);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  give(buf: Buffer): void {
    const waiter = this.waiters.shift();
    if (waiter) {
      waiter(buf);
      return;
    }
    this.free.push(buf);
    if (this.free.length === this.count) {
      const idle = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of idle) resolve();
    }
  }

  /** Buffers currently lent out (planes copied but not yet on disk). */
  get inUse(): number {
    return this.count - this.free.length;
  }

  /** Resolves once every buffer is back: all planes handed to the sink have settled. */
  idle(): Promise<void> {
    if (this.free.length === this.count) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}
