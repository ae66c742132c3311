import { GentlyError } from "@gently/protocol";

/** The FIFO of runs waiting for the microscope; the run in progress is not in it. */
export class RunQueue<T extends { run_uid: string }> {
  private items: T[] = [];

  get length(): number {
    return this.items.length;
  }

  list(): readonly T[] {
    return this.items;
  }

  /** Appends; returns the 1-based place in the queue. */
  push(item: T): number {
    this.items.push(item);
    return this.items.length;
  }

  shift(): T | undefined {
    return this.items.shift();
  }

  find(run_uid: string): T | undefined {
    return this.items.find((i) => i.run_uid === run_uid);
  }

  /** Moves a queued run to a 1-based position (1 = next); a position past the end means last. */
  move(run_uid: string, position: number): void {
    const from = this.indexOf(run_uid);
    const [item] = this.items.splice(from, 1);
    this.items.splice(Math.min(position - 1, this.items.length), 0, item!);
  }

  remove(run_uid: string): T {
    const [item] = this.items.splice(this.indexOf(run_uid), 1);
    return item!;
  }

  drain(): T[] {
    const all = this.items;
    this.items = [];
    return all;
  }

  private indexOf(run_uid: string): number {
    const i = this.items.findIndex((x) => x.run_uid === run_uid);
    if (i < 0) throw new GentlyError("not_found", `run ${run_uid} is not in the queue`, "run_uid");
    return i;
  }
}
