import { execFile } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { accountSecretPath, connectBus, createLogger, ensureStream, jetStreamOf } from "@gently/bus";
import { PROCESS_NAMES, SERVICE_NAMES } from "@gently/protocol";
import { isAlive, spawnTs, tempStorage, waitFor } from "@gently/testing";
import { SupervisedChild } from "./child";
import { freePort } from "./nats-server";
import { SupervisedNatsServer } from "./supervised-nats";
import { REPO_ROOT } from "./system";

const run = promisify(execFile);
const logger = createLogger("supervisor-test", "silent");
const sink = new Writable({ write: (_c, _e, cb) => cb() });
const quickRestart = { initialDelayMs: 100, maxDelayMs: 1_000, healthyAfterMs: 60_000 };

describe("supervised children", () => {
  const children: SupervisedChild[] = [];
  afterEach(async () => {
    await Promise.all(children.map((c) => c.stop(1_000)));
  });

  it("restarts a crashing child with backoff while the others keep running", async () => {
    const crasher = new SupervisedChild(
      { name: "crasher", command: process.execPath, args: ["-e", "setTimeout(() => process.exit(3), 200)"] },
      logger,
      quickRestart,
      sink,
    );
    const steady = new SupervisedChild(
      { name: "steady", command: process.execPath, args: ["-e", "setInterval(() => {}, 1000)"] },
      logger,
      quickRestart,
      sink,
    );
    children.push(crasher, steady);
    crasher.start();
    steady.start();
    const steadyPid = steady.pid!;
    await waitFor(() => crasher.restarts >= 3, 15_000, "three restarts");
    expect(isAlive(steadyPid)).toBe(true);
    expect(steady.pid).toBe(steadyPid);
    expect(steady.restarts).toBe(0);
  });

  it("stops a child that ignores SIGTERM with SIGKILL after the grace period", async () => {
    const stubborn = new SupervisedChild(
      { name: "stubborn", command: process.execPath, args: ["-e", "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)"] },
      logger,
      quickRestart,
      sink,
    );
    stubborn.start();
    await new Promise((r) => setTimeout(r, 300));
    const pid = stubborn.pid!;
    await stubborn.stop(500);
    expect(isAlive(pid)).toBe(false);
  });
});

describe("npm start (the supervisor)", () => {
  async function startSystem(opts: { processGroup?: boolean; env?: NodeJS.ProcessEnv } = {}) {
    const storage = tempStorage();
    const port = await freePort();
    const env = {
      GENTLY_STORAGE: storage.dir,
      GENTLY_NATS_PORT: String(port),
      GENTLY_HTTP_PORT: String(await freePort()),
      GENTLY_API_PORT: String(await freePort()),
      GENTLY_NATS_URL: "",
      ...opts.env,
    };
    const supervisor = spawnTs(path.join(REPO_ROOT, "libs/supervisor/src/main.ts"), env, [], opts);
    await supervisor.waitForLog((l) => l.includes("system started"), 30_000);
    const pids = () =>
      supervisor.lines.filter((l) => l.includes("child started") || l.includes("embedded nats-server started")).map((l) => JSON.parse(l).pid as number);
    return { storage, port, supervisor, pids };
  }

  it("on Ctrl-C (SIGINT to its whole process group) stops every service cleanly, then NATS", async () => {
    const { storage, supervisor, pids } = await startSystem({ processGroup: true });
    try {
      await waitFor(() => supervisor.lines.filter((l) => l.includes('"msg":"started"')).length === PROCESS_NAMES.length, 60_000, "every service started");
      const started = pids();
      process.kill(-supervisor.child.pid!, "SIGINT");
      expect((await supervisor.exited).code).toBe(0);
      await waitFor(() => started.every((pid) => !isAlive(pid)), 15_000, "every child to exit");
      expect(supervisor.lines.filter((l) => l.includes('"msg":"stopped"'))).toHaveLength(PROCESS_NAMES.length);
      expect(supervisor.lines.filter((l) => l.includes("error while stopping"))).toEqual([]);
    } finally {
      await supervisor.kill();
      storage.remove();
    }
  }, 180_000);

  it("brings NATS (JetStream under GENTLY_JETSTREAM_DIR) and every listed service up; SIGTERM (and more signals after it) stops every child and the NATS it started", async () => {
    const jetstream = tempStorage("gently-jetstream-dir-");
    const { storage, port, supervisor, pids: childPids } = await startSystem({ env: { GENTLY_JETSTREAM_DIR: jetstream.dir } });
    try {
      const status = await run(process.execPath, [path.join(REPO_ROOT, "libs/cli/bin/gently.js"), "status", "--json", "--wait", "90"], {
        env: { ...process.env, GENTLY_NATS_URL: `nats://127.0.0.1:${port}`, GENTLY_STORAGE: storage.dir },
        timeout: 120_000,
      });
      const parsed = JSON.parse(status.stdout);
      // the embedded server runs with the same nats.conf as ops: generated accounts, private to the owner
      expect(statSync(accountSecretPath(storage.dir, "copilot")).mode & 0o777).toBe(0o600);
      expect(parsed.healthy).toBe(true);
      expect(parsed.services.map((s: { service: string }) => s.service)).toEqual([...SERVICE_NAMES]);
      // JetStream's store is where GENTLY_JETSTREAM_DIR says, not beside the volumes
      expect(existsSync(path.join(jetstream.dir, "jetstream"))).toBe(true);
      expect(existsSync(path.join(storage.dir, "nats"))).toBe(false);

      const pids = childPids();
      // the micro-services answer gently status; the HTTP API door runs beside them
      expect(pids).toHaveLength(PROCESS_NAMES.length + 1);
      expect(pids.every(isAlive)).toBe(true);

      expect(await supervisor.stop(["SIGTERM", "SIGINT"])).toBe(0);
      await waitFor(() => pids.every((pid) => !isAlive(pid)), 15_000, "every child to exit");
    } finally {
      await supervisor.kill();
      storage.remove();
      jetstream.remove();
    }
  }, 180_000);
});

describe("the embedded nats-server under supervision", () => {
  it("is restarted on the same port and store when killed -9: JetStream's data survives and a client reconnects", async () => {
    const storage = tempStorage("gently-supervised-nats-");
    const port = await freePort();
    const nats = new SupervisedNatsServer({ port, storeDir: path.join(storage.dir, "nats") }, logger, quickRestart);
    try {
      await nats.start();
      const nc = await connectBus({ servers: nats.url, name: "supervised-nats-test", logger });
      const { js, jsm } = await jetStreamOf(nc);
      await ensureStream(jsm, { name: "SUPERVISED", subjects: ["test.supervised"] });
      await js.publish("test.supervised", new TextEncoder().encode("kept"));
      const firstPid = nats.pid!;

      process.kill(firstPid, "SIGKILL");
      await waitFor(() => nats.restarts === 1 && nats.pid !== firstPid && isAlive(nats.pid!), 15_000, "a new nats-server");
      await waitFor(() => !nc.isClosed() && nc.getServer() !== "", 5_000, "the client");
      const info = await waitFor(() => jsm.streams.info("SUPERVISED").catch(() => null), 15_000, "the stream after the restart");
      expect(info.state.messages).toBe(1);
      await nc.close();
    } finally {
      await nats.stop();
      storage.remove();
    }
  }, 60_000);

  it("is restarted when it lives but its JetStream stops answering (here: the process stopped with SIGSTOP, as a hung store leaves it)", async () => {
    const storage = tempStorage("gently-supervised-nats-hung-");
    const lines: string[] = [];
    const watched = createLogger("supervisor-test", "info", new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }));
    const nats = new SupervisedNatsServer({ port: await freePort(), storeDir: path.join(storage.dir, "nats") }, watched, quickRestart);
    try {
      await nats.start();
      const hungPid = nats.pid!;
      process.kill(hungPid, "SIGSTOP");
      await waitFor(() => nats.restarts === 1 && nats.pid !== hungPid && isAlive(nats.pid!), 60_000, "the supervisor to restart the hung server");
      expect(lines.some((l) => l.includes("JetStream has stopped answering"))).toBe(true);
      expect(isAlive(hungPid)).toBe(false);
    } finally {
      await nats.stop();
      storage.remove();
    }
  }, 90_000);
});
