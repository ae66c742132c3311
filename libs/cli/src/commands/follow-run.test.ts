import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "@gently/supervisor";
import { spawnTs, tempStorage } from "@gently/testing";
import { startAcquisitionServices, type AcquisitionServices } from "../../test/acquisition-services";

const CLI = path.join(REPO_ROOT, "libs", "cli", "src", "main.ts");

describe("the CLI following a silent run (real nats-server, hardware, writer and plan-runner processes)", () => {
  const storage = tempStorage("gently-cli-silence-");
  let system: AcquisitionServices;

  beforeAll(async () => {
    system = await startAcquisitionServices(storage.dir);
  });

  afterAll(async () => {
    await system?.stop();
    storage.remove();
  });

  it("keeps waiting but says what for: the plan runner's view of the run, then why the plan runner does not answer", async () => {
    const planRunner = system.services[2]!;
    const cli = spawnTs(CLI, { ...system.env, GENTLY_LOG_LEVEL: "silent", GENTLY_CLI_SILENCE_NOTICE_S: "3" }, [
      "timelapse", "--num-timepoints", "2", "--interval-s", "120", "--num-slices", "5", "--json",
    ]);
    try {
      // between two timepoints the run is rightly silent: the notice says the plan runner is on it
      const waiting = await cli.waitForLog((l) => l.includes("still waiting for run"), 30_000);
      expect(waiting).toMatch(/nothing heard from it for \d+ s; the plan runner is running on it/);

      // a plan runner that stops answering (here: stopped by SIGSTOP) is named, with what was asked and for how long
      process.kill(planRunner.child.pid!, "SIGSTOP");
      const silent = await cli.waitForLog((l) => l.includes("the plan runner does not answer"), 40_000);
      expect(silent).toMatch(/no reply on gently\.plan\.status within \d+ ms/);
    } finally {
      process.kill(planRunner.child.pid!, "SIGCONT");
      cli.child.kill("SIGINT");
      await cli.exited;
    }
  }, 120_000);
});
