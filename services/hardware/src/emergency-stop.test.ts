import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NatsConnection } from "@nats-io/transport-node";
import { call, connectBus, createLogger } from "@gently/bus";
import { hw, newUid } from "@gently/protocol";
import { unlinkRing } from "@gently/ring";
import { injectFaultEnv, spawnService, startTestNats, tempStorage, waitFor, type ServiceProcess, type TestNats } from "@gently/testing";
import { TestReader } from "../test/test-reader";

const logger = createLogger("hardware-emergency-test", "silent");

/**
 * Every fatal way out of the hardware process stops the sequence and sets the lasers' off preset
 * before the process exits; the process reads the lasers back from its core on the way out.
 */
describe("hardware emergency stop (real process, real NATS, sim core)", () => {
  let nats: TestNats;
  let nc: NatsConnection;
  let reader: TestReader;
  const storage = tempStorage("gently-hw-emergency-");
  // one ring per process: a process that dies cannot unlink its own
  const ringPaths: string[] = [];
  const processes: ServiceProcess[] = [];

  beforeAll(async () => {
    nats = await startTestNats();
    nc = await connectBus({ servers: nats.url, name: "emergency-test", logger });
  });
  afterAll(async () => {
    for (const p of processes) await p.kill();
    await reader?.stop();
    await nc?.close();
    await nats?.stop();
    for (const ringPath of ringPaths) unlinkRing(ringPath);
    storage.remove();
  });

  /** A hardware process mid-volume with the 488 laser on. */
  async function midVolume(env: NodeJS.ProcessEnv): Promise<{ hardware: ServiceProcess; acq_id: string }> {
    const ringPath = `/dev/shm/gently-test-emergency-${newUid()}`;
    ringPaths.push(ringPath);
    await reader?.stop();
    reader = new TestReader(nc);
    await reader.start();
    const hardware = spawnService("hardware", {
      GENTLY_NATS_URL: nats.url,
      GENTLY_STORAGE: storage.dir,
      GENTLY_RING_PATH: ringPath,
      GENTLY_RING_SLOTS: "4",
      ...env,
    });
    processes.push(hardware);
    await hardware.waitForLog((l) => l.includes('"msg":"started"'), 45_000);
    const acq_id = newUid();
    await call(nc, hw.startSequence, {
      acq_id,
      volume_uid: newUid(),
      session_id: "emergency-test",
      cameras: ["HamCam1"],
      num_slices: 400,
      exposure_ms: 20,
      laser_config: "488 only",
    });
    await waitFor(async () => ((await call(nc, hw.state, {})).acquisition?.frames_done ?? 0) >= 3, 10_000, "frames flowing");
    expect((await call(nc, hw.state, {})).laser).toBe("488 only");
    return { hardware, acq_id };
  }

  /** The log lines from the fault to the exit, in order. */
  function expectSafeExit(hardware: ServiceProcess, fault: string): void {
    const lines = hardware.lines;
    const at = (text: string) => lines.findIndex((l) => l.includes(text));
    const faultAt = at(fault);
    expect(faultAt, `'${fault}' logged`).toBeGreaterThanOrEqual(0);
    const stopAt = at("emergency stop: stopping the sequence");
    const doneAt = at("emergency stop done: the core reports the lasers off");
    expect(stopAt, lines.slice(-12).join("\n")).toBeGreaterThanOrEqual(faultAt);
    expect(doneAt, "the core read back ALL OFF before the exit").toBeGreaterThan(stopAt);
    expect(JSON.parse(lines[doneAt]!).laser).toBe("ALL OFF");
    expect(lines.some((l) => l.includes("could not switch the lasers off"))).toBe(false);
  }

  for (const fault of ["exception", "rejection"] as const) {
    it(`an ${fault === "exception" ? "uncaught exception" : "unhandled rejection"} mid-volume: sequence aborted, lasers off in the core, exit 1`, async () => {
      const { hardware, acq_id } = await midVolume(injectFaultEnv("hardware", fault));
      process.kill(hardware.child.pid!, "SIGUSR2");
      const end = await reader.waitEnd(acq_id, 10_000);
      expect(end.status).toBe("aborted");
      expect(end.reason).toContain(`injected fault: ${fault === "exception" ? "uncaught exception" : "unhandled rejection"}`);
      expect((await hardware.exited).code).toBe(1);
      expectSafeExit(hardware, fault === "exception" ? "uncaught exception" : "unhandled rejection");
    }, 90_000);
  }

  it("a catchable fatal signal (SIGHUP) mid-volume: sequence aborted, lasers off in the core, exit 129", async () => {
    const { hardware, acq_id } = await midVolume({});
    process.kill(hardware.child.pid!, "SIGHUP");
    const end = await reader.waitEnd(acq_id, 10_000);
    expect(end.status).toBe("aborted");
    expect(end.reason).toBe("signal SIGHUP");
    expect((await hardware.exited).code).toBe(129);
    expectSafeExit(hardware, "signal SIGHUP");
  }, 90_000);
});
