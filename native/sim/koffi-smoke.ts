/**
 * Smoke check of libgently_sim.so through koffi, along the hardware service's
 * data path: the sim renders sequence frames (gc_pop_next on a koffi worker
 * thread) straight into shared-memory ring slots. Exits non-zero on failure.
 *   npx tsx native/sim/koffi-smoke.ts      (or: make -C native smoke)
 */
import koffi from "koffi";
import { createRing, loadNativeLibrary, unlinkRing } from "../../libs/ring/src/index";

const lib = loadNativeLibrary("gently_sim");
koffi.opaque("gc_core");
koffi.struct("gc_frame_meta", {
  seq: "uint64_t",
  timestamp_us: "uint64_t",
  width: "uint32_t",
  height: "uint32_t",
  bytes_per_pixel: "uint32_t",
  camera_index: "int32_t",
  piezo_um: "double",
  galvo_deg: "double",
  x_um: "double",
  y_um: "double",
});
koffi.struct("gc_sweep", {
  num_slices: "uint32_t",
  piezo_start_um: "double",
  piezo_step_um: "double",
  galvo_start_deg: "double",
  galvo_step_deg: "double",
});
const gcOpen = lib.func("gc_core *gc_open(const char *config, _Out_ char *err, size_t cap)");
const gcClose = lib.func("void gc_close(gc_core *core)");
const gcLastError = lib.func("const char *gc_last_error(gc_core *core)");
const gcSetConfig = lib.func("int gc_set_config(gc_core *core, const char *group, const char *preset)");
const gcFrameBytes = lib.func("int gc_frame_bytes(gc_core *core, const char *camera, _Out_ size_t *bytes)");
const gcStart = lib.func(
  "int gc_start_sequence(gc_core *core, const char *cameras, uint32_t count, const gc_sweep *sweep)",
);
const gcPopNext = lib.func(
  "int gc_pop_next(gc_core *core, void *buf, size_t cap, _Out_ gc_frame_meta *meta, uint32_t timeout_ms, _Out_ uint64_t *dropped)",
);
const gcSnap = lib.func("int gc_snap(gc_core *core, const char *camera, void *buf, size_t cap, _Out_ gc_frame_meta *meta)");
const gcSetProperty = lib.func("int gc_set_property(gc_core *core, const char *device, const char *prop, const char *value)");

function fail(msg: string): never {
  console.error(`koffi-smoke: FAIL ${msg}`);
  process.exit(1);
}

const err = Buffer.alloc(256);
const core = gcOpen(null, err, err.length);
if (!core) fail(`gc_open: ${err.toString("utf8", 0, err.indexOf(0))}`);
const ok = (rc: number, what: string) => rc === 0 || fail(`${what} -> ${rc}: ${gcLastError(core)}`);

ok(gcSetConfig(core, "Laser", "488 only"), "laser");
const bytes = new BigUint64Array(1);
ok(gcFrameBytes(core, "HamCam1", bytes), "frame bytes");
const frameBytes = Number(bytes[0]);

const path = `/dev/shm/gently-koffi-smoke-${process.pid}`;
const ring = createRing(path, { slotBytes: frameBytes, numSlots: 8 });
try {
  // Determinism: the same noise index gives the same frame.
  const a = Buffer.alloc(frameBytes);
  const b = Buffer.alloc(frameBytes);
  const meta = {} as Record<string, unknown>;
  ok(gcSetProperty(core, "Sim", "NoiseIndex", "7"), "noise index");
  ok(gcSnap(core, "HamCam1", a, frameBytes, meta), "snap a");
  ok(gcSetProperty(core, "Sim", "NoiseIndex", "7"), "noise index");
  ok(gcSnap(core, "HamCam1", b, frameBytes, meta), "snap b");
  if (!a.equals(b)) fail("snaps with the same noise index differ");
  if (meta.width !== 2048 || meta.height !== 512) fail(`meta ${JSON.stringify(meta)}`);

  // A 200-slice dual-camera sweep rendered into ring slots on koffi worker threads.
  const slices = 200;
  ok(
    gcStart(core, "HamCam1,HamCam2", slices, {
      num_slices: slices,
      piezo_start_um: -25,
      piezo_step_um: 0.25,
      galvo_start_deg: -0.25,
      galvo_step_deg: 0.0025,
    }),
    "start sequence",
  );
  const t0 = performance.now();
  const popAsync = (slot: number, m: Record<string, unknown>, dropped: BigUint64Array) =>
    new Promise<number>((resolve, reject) =>
      gcPopNext.async(core, ring.slotPointer(slot), frameBytes, m, 1000, dropped, (e: unknown, rc: number) =>
        e ? reject(e) : resolve(rc),
      ),
    );
  let brightest = 0;
  let dimmest = Infinity;
  for (let k = 0; k < 2 * slices; k++) {
    const slot = (await ring.acquire(1000)) ?? fail("ring acquire timed out");
    const m = {} as { seq: bigint | number; camera_index: number; piezo_um: number };
    const dropped = new BigUint64Array(1);
    ok(await popAsync(slot, m, dropped), `pop ${k}`);
    if (Number(m.seq) !== Math.floor(k / 2) || m.camera_index !== k % 2 || dropped[0] !== 0n)
      fail(`frame ${k}: seq ${m.seq} camera ${m.camera_index} dropped ${dropped[0]}`);
    ring.commit(slot, k, frameBytes);
    const out = Buffer.alloc(frameBytes);
    ring.read(slot, k, out);
    const px = new Uint16Array(out.buffer, out.byteOffset, frameBytes / 2);
    let sum = 0;
    for (let i = 0; i < px.length; i += 64) sum += px[i];
    brightest = Math.max(brightest, (sum * 64) / px.length);
    dimmest = Math.min(dimmest, (sum * 64) / px.length);
    ring.release(slot, k);
  }
  const fps = (2 * slices) / ((performance.now() - t0) / 1000);
  // Slices far from the embryo hold only background; the ones through it are brighter.
  if (brightest - dimmest < 5) fail(`no embryo section in the sweep (frame means ${dimmest.toFixed(1)}..${brightest.toFixed(1)})`);
  console.log(
    `koffi-smoke: ok — ${2 * slices} frames 2048x512 into the ring at ${fps.toFixed(0)} frames/s ` +
      `(render + koffi async + ring read), frame means ${dimmest.toFixed(0)}..${brightest.toFixed(0)} ADU`,
  );
} finally {
  ring.close();
  unlinkRing(path);
  gcClose(core);
}
