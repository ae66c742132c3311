import { createHash } from "node:crypto";
import { access, readFile } from "node:fs/promises";
import type { NatsConnection } from "@nats-io/transport-node";
import { decode, encode } from "fast-png";
import { writeDerivedItem, writeDerivedSidecar, type DerivedItemInput } from "@gently/derived";
import { derivedPathFor, sidecarPathFor } from "@gently/storage";
import { jetStreamOf, publishDurable, type Logger } from "@gently/bus";
import { DerivedWritten, GentlyError, isUid, SessionId, subjects, type Uid } from "@gently/protocol";
import { maxProjection, type Plane, type TiffVolume } from "@gently/preview";

const UID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/** MIPs kept decoded in memory; a 2048x2048 uint16 MIP is 8 MiB. */
const MEMORY_CAPACITY = 6;

/**
 * The uid of the MIP of (volume, channel): derived from both, so every
 * request, restart or viz instance finds the same cached file and the
 * announcement deduplicates on it.
 */
export function mipUidOf(volumeUid: string, channel: number): Uid {
  let n = BigInt("0x" + createHash("sha256").update(`gently-viz-mip\0${volumeUid}\0${channel}`).digest("hex").slice(0, 32));
  let out = "";
  for (let i = 0; i < 21; i++) {
    out = UID_ALPHABET[Number(n % 62n)] + out;
    n /= 62n;
  }
  return out as Uid;
}

export interface Mip {
  uid: Uid;
  pixels: Plane;
  width: number;
  height: number;
}

/**
 * Maximum projections as derived items: computed once (plane by plane),
 * written to {storage}/derived/{mip uid}.png as a lossless 8/16-bit grey PNG
 * with its lineage sidecar, announced on gently.derived.written, then served
 * from disk (and a small in-memory cache) from then on.
 */
export class MipStore {
  private readonly memory = new Map<string, Mip>();
  private readonly inFlight = new Map<string, Promise<Mip>>();

  constructor(
    private readonly storage: string,
    private readonly nc: NatsConnection,
    private readonly logger: Logger,
  ) {}

  async get(volumeUid: string, volume: TiffVolume, channel: number): Promise<Mip> {
    const uid = mipUidOf(volumeUid, channel);
    const cached = this.memory.get(uid);
    if (cached) {
      this.memory.delete(uid);
      this.memory.set(uid, cached);
      return cached;
    }
    let pending = this.inFlight.get(uid);
    if (!pending) {
      pending = this.load(uid, volumeUid, volume, channel).finally(() => this.inFlight.delete(uid));
      this.inFlight.set(uid, pending);
    }
    const mip = await pending;
    this.remember(mip);
    return mip;
  }

  private async load(uid: Uid, volumeUid: string, volume: TiffVolume, channel: number): Promise<Mip> {
    const file = derivedPathFor(this.storage, uid, "png");
    if (await exists(file)) {
      if (!(await exists(sidecarPathFor(file)))) await this.announce(await writeDerivedSidecar(file, this.facts(uid, volumeUid, volume, channel)));
      return this.decodeFile(uid, file);
    }
    const pixels = await maxProjection(volume, channel);
    const { size_x: width, size_y: height, dtype } = volume.geometry;
    const png = encode({ width, height, data: pixels, depth: dtype === "uint16" ? 16 : 8, channels: 1 });
    try {
      const body = await writeDerivedItem(this.storage, { ...this.facts(uid, volumeUid, volume, channel), ext: "png" }, png);
      await this.announce(body);
    } catch (err) {
      // Another viz instance wrote the same MIP first: its file is the same projection.
      if (!(err instanceof GentlyError && err.code === "conflict")) throw err;
    }
    return { uid, pixels, width, height };
  }

  private facts(uid: Uid, volumeUid: string, volume: TiffVolume, channel: number): DerivedItemInput {
    const meta = volume.ome?.meta;
    const { size_x, size_y, size_z, dtype } = volume.geometry;
    return {
      uid,
      data_type: "analysis",
      parent_uid: volumeUid as Uid,
      // The file's own ids carry over when they are valid on the bus (a foreign TIFF's may not be).
      ...(SessionId.safeParse(meta?.session_id).success ? { session_id: meta!.session_id } : {}),
      ...(isUid(meta?.run_uid) ? { run_uid: meta!.run_uid as Uid } : {}),
      shape: [size_y, size_x],
      dtype,
      metadata: { kind: "mip", axis: "z", channel, planes: size_z, format: "png", producer: "viz" },
    };
  }

  private async announce(body: DerivedWritten): Promise<void> {
    const { js } = await jetStreamOf(this.nc);
    await publishDurable(js, subjects.derived.written, DerivedWritten, body, body.uid);
    this.logger.info({ uid: body.uid, parent_uid: body.parent_uid }, "MIP written and announced");
  }

  private async decodeFile(uid: Uid, file: string): Promise<Mip> {
    const png = decode(await readFile(file));
    if (png.channels !== 1 || (png.depth !== 8 && png.depth !== 16)) {
      throw new GentlyError("internal", `cached MIP ${file} is not an 8- or 16-bit grey PNG`);
    }
    return { uid, pixels: png.data as Plane, width: png.width, height: png.height };
  }

  private remember(mip: Mip): void {
    this.memory.delete(mip.uid);
    this.memory.set(mip.uid, mip);
    while (this.memory.size > MEMORY_CAPACITY) this.memory.delete(this.memory.keys().next().value as string);
  }
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}
