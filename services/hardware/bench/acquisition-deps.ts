import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "@gently/bus";
import { DEFAULT_LIMITS } from "@gently/protocol";
import type { Ring } from "@gently/ring";
import type { AcquisitionDeps } from "../src/acquisition";
import type { Core } from "../src/core-binding";
import { Microscope } from "../src/microscope";
import { RingSlots } from "../src/ring-slots";
import { DISPIM_ROLES } from "../src/roles";
import { WriterLink } from "../src/writer-link";

/** An acquisition's collaborators wired as the service wires them, on a bench's own core and ring, with generous timeouts. */
export function benchAcquisitionDeps(nc: NatsConnection, core: Core, ring: Ring, logger: Logger): AcquisitionDeps {
  const writer = new WriterLink(nc, 10_000);
  return {
    microscope: new Microscope(core, DEFAULT_LIMITS, DISPIM_ROLES),
    slots: new RingSlots(ring, { timeoutMs: 30_000, writerAnswers: (id) => writer.answers(id), logger }),
    writer,
    logger,
    frameTimeoutMs: 10_000,
  };
}
