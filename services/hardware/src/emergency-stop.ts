import os from "node:os";
import type { Logger } from "@gently/bus";
import type { HardwareLease } from "./lease";
import type { Microscope } from "./microscope";
import type { HardwareService } from "./service";

/** How long the emergency stop waits for the aborted acquisition's end to be published. */
const END_PUBLISH_WAIT_MS = 2_000;

/**
 * Makes the microscope safe on every fatal way out of the hardware process
 * (uncaught exception, unhandled rejection, lost lease, a catchable fatal
 * signal): the sequence stops and the lasers go "ALL OFF" before the process
 * exits, then the core is asked what the lasers are, so the log says what the
 * hardware reports rather than what was asked of it. Without it an exception
 * left the lasers on until a restarted service took the lease (≥ 6 s).
 */
export class EmergencyStop {
  private microscope: Microscope | null = null;
  private service: HardwareService | null = null;
  private lease: HardwareLease | null = null;
  private running: Promise<void> | null = null;

  constructor(private readonly logger: Logger) {}

  /** What there is to make safe so far (the microscope opens before the service starts). */
  arm(parts: { microscope?: Microscope; service?: HardwareService; lease?: HardwareLease }): void {
    this.microscope = parts.microscope ?? this.microscope;
    this.service = parts.service ?? this.service;
    this.lease = parts.lease ?? this.lease;
  }

  /** Runs once; later calls wait for the first. Never throws. */
  run(reason: string): Promise<void> {
    this.running ??= this.stop(reason);
    return this.running;
  }

  private async stop(reason: string): Promise<void> {
    const microscope = this.microscope;
    if (!microscope) {
      this.logger.warn({ reason }, "emergency stop: no microscope was opened, nothing to make safe");
      await this.lease?.release();
      return;
    }
    this.logger.fatal({ reason }, "emergency stop: stopping the sequence and switching the lasers off");
    // halt stops a running sequence and switches its lasers off before its first await; the rest publishes the end
    const halted = this.service?.halt(reason).catch((err) => this.logger.error({ err: String(err) }, "emergency stop: halt failed"));
    try {
      await microscope.lasersOff();
    } catch (err) {
      this.logger.fatal({ err: String(err) }, "emergency stop: could not switch the lasers off");
    }
    await Promise.race([halted, new Promise((r) => setTimeout(r, END_PUBLISH_WAIT_MS).unref())]);
    try {
      const laser = await microscope.laser();
      if (laser === "ALL OFF") this.logger.info({ laser }, "emergency stop done: the core reports the lasers off");
      else this.logger.fatal({ laser }, "emergency stop: the core still reports a laser preset on");
    } catch (err) {
      this.logger.fatal({ err: String(err) }, "emergency stop: could not read the lasers back from the core");
    }
    // safe now: hand the microscope over at once, so the restarted service need not wait out the ttl
    await this.lease?.release();
  }
}

/** Fatal signals a process can catch besides SIGTERM/SIGINT (those stop it cleanly). */
const FATAL_SIGNALS = ["SIGHUP", "SIGQUIT"] as const;

/** On a catchable fatal signal: the emergency stop, then exit with the shell's code for that signal. */
export function emergencyStopOnFatalSignals(emergency: EmergencyStop): void {
  for (const signal of FATAL_SIGNALS) {
    process.once(signal, () => {
      void emergency.run(`signal ${signal}`).finally(() => process.exit(128 + os.constants.signals[signal]));
    });
  }
}
