import { runProcess } from "@gently/bus";
import { createRing, unlinkRing, type Ring } from "@gently/ring";
import { loadHardwareConfig } from "./config";
import { Core } from "./core-binding";
import { EmergencyStop, emergencyStopOnFatalSignals } from "./emergency-stop";
import { HardwareLease } from "./lease";
import { loadLimits } from "./limits";
import { loadRoles } from "./roles";
import { Microscope } from "./microscope";
import { RingSlots } from "./ring-slots";
import { HardwareService } from "./service";
import { WriterLink } from "./writer-link";
import pkg from "../package.json" with { type: "json" };

// created with the process's logger; the fatal paths of runProcess reach it through here
let emergency: EmergencyStop | null = null;

runProcess("hardware", async ({ config, logger, nc }) => {
  const emergencyStop = new EmergencyStop(logger);
  emergency = emergencyStop;
  emergencyStopOnFatalSignals(emergencyStop);
  const hwConfig = loadHardwareConfig(config);
  const limits = loadLimits(hwConfig.limitsFile);
  const { roles, laserPowerDefaulted } = loadRoles(hwConfig.rolesFile);
  let service: HardwareService | null = null;
  let ring: Ring | null = null;
  // The lease comes first: a second instance must not touch the core or the ring.
  const lease = await HardwareLease.acquire(nc, {
    logger,
    onLost: (reason) => {
      logger.fatal({ reason }, "lost the microscope; lasers off and exiting");
      void emergencyStop.run(reason).finally(() => process.exit(1));
    },
  });
  emergencyStop.arm({ lease });
  let core: Core | null = null;
  try {
    core = Core.open(hwConfig.coreLibrary, hwConfig.coreConfig, hwConfig.callTimeoutMs);
    const microscope = new Microscope(core, limits, roles, { coreConfig: hwConfig.coreConfig, rolesFile: hwConfig.rolesFile, laserPowerDefaulted });
    for (const note of microscope.roleNotes) logger.warn(note);
    emergencyStop.arm({ microscope });
    await microscope.lasersOff();
    ring = createRing(hwConfig.ringPath, { slotBytes: microscope.maxFrameBytes(), numSlots: hwConfig.ringSlots });
    logger.info(
      { core: core.libraryPath, config: hwConfig.coreConfig, ...microscope.coreInfo, roles: hwConfig.rolesFile ?? "diSPIM defaults", ring: ring.path, slots: ring.numSlots, slotBytes: ring.slotBytes },
      "microscope ready",
    );
    const writer = new WriterLink(nc, hwConfig.writerTimeoutMs);
    const slots = new RingSlots(ring, { timeoutMs: hwConfig.ringTimeoutMs, writerAnswers: (id) => writer.answers(id), logger });
    writer.watchOutcomes((uid) => slots.volumeSettled(uid), logger);
    service = new HardwareService({
      nc,
      logger,
      version: pkg.version,
      microscope,
      slots,
      writer,
      owner: lease.holder,
      frameTimeoutMs: hwConfig.frameTimeoutMs,
    });
    emergencyStop.arm({ service });
    await service.start();
  } catch (err) {
    // Hand the microscope back at once rather than making a successor wait for the ttl.
    ring?.close();
    core?.close();
    await lease.release();
    throw err;
  }
  return {
    stop: async () => {
      await service?.stop();
      // Readers that mapped the ring keep their mapping; nobody new should open it.
      ring?.close();
      if (ring) unlinkRing(ring.path);
      core?.close();
      await lease.release();
    },
  };
}, { onFatal: (reason) => emergency?.run(reason) });
