/**
 * Run by tests/windows under Windows Node: a supervised child that ignores its
 * "stop" line and has started a process of its own. SupervisedChild.stop must
 * end both after the grace (its job object: Windows has no process groups).
 * Prints one JSON line: the pids and whether each is still alive afterwards.
 */
import { Writable } from "node:stream";
import { createLogger } from "@gently/bus";
import { DEFAULT_RESTART_POLICY, SupervisedChild } from "@gently/supervisor";

const grandchild = "setInterval(() => {}, 1000)";
const stubborn = [
  "const c = require('node:child_process').spawn(process.execPath, ['-e', " + JSON.stringify(grandchild) + "], { stdio: 'ignore' });",
  "console.log('grandchild ' + c.pid);",
  // reads its stdin (so the stop line arrives) and ignores it
  "process.stdin.on('data', () => {});",
  "setInterval(() => {}, 1000);",
].join("\n");

let output = "";
const sink = new Writable({
  write(chunk, _encoding, done) {
    output += String(chunk);
    done();
  },
});
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const child = new SupervisedChild({ name: "stubborn", command: process.execPath, args: ["-e", stubborn] }, createLogger("stubborn-test", "silent"), DEFAULT_RESTART_POLICY, sink);
child.start();
const deadline = Date.now() + 30_000;
while (!/grandchild (\d+)/.test(output) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
const grandchildPid = Number(/grandchild (\d+)/.exec(output)?.[1]);
const childPid = child.pid!;
const before = { child: alive(childPid), grandchild: alive(grandchildPid) };
const started = Date.now();
await child.stop(2_000);
await new Promise((r) => setTimeout(r, 1_000));
console.log(JSON.stringify({ childPid, grandchildPid, before, after: { child: alive(childPid), grandchild: alive(grandchildPid) }, stopMs: Date.now() - started }));
process.exit(0);
