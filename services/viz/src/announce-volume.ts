import type { JetStreamClient } from "@nats-io/jetstream";
import { publishDurable } from "@gently/bus";
import { subjects, VolumeWritten } from "@gently/protocol";

/** Announces a written volume on JetStream the way the writer does (deduplicated by uid). */
export async function announceVolume(js: JetStreamClient, body: VolumeWritten): Promise<number> {
  return (await publishDurable(js, subjects.volume.written, VolumeWritten, body, body.uid)).seq;
}
