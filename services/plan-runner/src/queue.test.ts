import { describe, expect, it } from "vitest";
import { GentlyError } from "@gently/protocol";
import { RunQueue } from "./queue";

const uids = (q: RunQueue<{ run_uid: string }>) => q.list().map((i) => i.run_uid);

describe("run queue", () => {
  it("is first in, first out, and reorders and removes by run uid", () => {
    const q = new RunQueue<{ run_uid: string }>();
    expect(["a", "b", "c", "d"].map((run_uid) => q.push({ run_uid }))).toEqual([1, 2, 3, 4]);
    q.move("d", 1);
    expect(uids(q)).toEqual(["d", "a", "b", "c"]);
    q.move("d", 99);
    expect(uids(q)).toEqual(["a", "b", "c", "d"]);
    q.move("a", 3);
    expect(uids(q)).toEqual(["b", "c", "a", "d"]);
    expect(q.remove("c")).toEqual({ run_uid: "c" });
    expect(q.shift()).toEqual({ run_uid: "b" });
    expect(uids(q)).toEqual(["a", "d"]);
    expect(() => q.remove("zz")).toThrow(GentlyError);
    expect(q.drain().length).toBe(2);
    expect(q.length).toBe(0);
  });
});
