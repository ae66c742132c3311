import { describe, expect, it } from "vitest";
import { newUid, type AcquisitionBegin } from "@gently/protocol";
import { buildOmeXml, parseOmeXml, parseVolumeMeta } from "@gently/ome-tiff";
import { ABSENT, sinkMetaOf } from "./volume-meta";

const begin = (overrides: Partial<AcquisitionBegin> = {}): AcquisitionBegin => ({
  acq_id: newUid(),
  volume_uid: newUid(),
  session_id: "s1",
  ring_path: "/dev/shm/ring",
  cameras: ["HamCam1"],
  num_slices: 10,
  width: 64,
  height: 32,
  dtype: "uint16",
  pixel_size_um: 0.1625,
  z_step_um: 1,
  exposure_ms: 10,
  position: { x_um: 1, y_um: 2 },
  started: "2024-05-01T10:00:00.000Z",
  ...overrides,
});

describe("file metadata of an acquisition", () => {
  it("names the excitation line only when one laser was on", () => {
    expect(sinkMetaOf(begin({ laser_config: "561 only" })).channels).toEqual([{ camera: "HamCam1", laser: "561 only", excitation_nm: 561 }]);
    const two = sinkMetaOf(begin({ cameras: ["HamCam1", "HamCam2"], laser_config: "488 and 561" }));
    expect(two.channels).toEqual([
      { camera: "HamCam1", laser: "488 and 561" },
      { camera: "HamCam2", laser: "488 and 561" },
    ]);
    expect(two.laser_config).toEqual([
      { wavelength_nm: 488, enabled: true },
      { wavelength_nm: 561, enabled: true },
    ]);
    expect(sinkMetaOf(begin({ laser_config: "ALL ON" })).laser_config?.map((l) => l.wavelength_nm)).toEqual([405, 488, 561, 637]);
    expect(sinkMetaOf(begin({ laser_config: "ALL OFF" })).laser_config).toEqual([]);
  });

  it("keeps the true z step where OME needs a positive PhysicalSizeZ", () => {
    const snap = sinkMetaOf(begin({ num_slices: 1, z_step_um: 0 }));
    expect(snap.z_step_um).toBe(0.1625);
    expect(snap.extra?.z_step_um).toBe("0");
    const reversed = sinkMetaOf(begin({ z_step_um: -0.5 }));
    expect(reversed.z_step_um).toBe(0.5);
    expect(reversed.extra?.z_step_um).toBe("-0.5");
    expect(sinkMetaOf(begin()).extra?.z_step_um).toBeUndefined();
  });

  it("writes 'none' for a run, plan or laser the acquisition does not have, and 0 for an unknown stage z", () => {
    const meta = sinkMetaOf(begin());
    expect(meta).toMatchObject({ run_uid: ABSENT, plan_name: ABSENT, stage_position_um: { x_um: 1, y_um: 2, z_um: 0 } });
    expect(meta.channels[0].laser).toBe(ABSENT);
    expect(JSON.parse(meta.extra!.position)).toEqual({ x_um: 1, y_um: 2 });
  });

  it("puts each plane at the piezo position of its slice (either sweep path), and the laser powers with their lines", () => {
    const sweep = { piezo_start_um: 44.0004, piezo_step_um: -0.5, galvo_start_deg: -0.1, galvo_step_deg: 0.01 };
    for (const sweep_mode of ["hardware", "stepped"] as const) {
      const meta = parseVolumeMeta(sinkMetaOf(begin({ num_slices: 4, z_step_um: -0.5, sweep, sweep_mode, position: { x_um: 1, y_um: 2, z_um: 150 } })));
      expect(meta.sheet_sweep).toEqual({ ...sweep, mode: sweep_mode });
      const planes = parseOmeXml(buildOmeXml(meta, "test")).planes;
      // the piezo's 1 nm steps, not stage z + index × step
      expect(planes.map((p) => p.position_z_um)).toEqual([44, 43.5, 43, 42.5]);
    }
    const powered = sinkMetaOf(begin({ laser_config: "488 only", laser_power_pct: { "488": 4.5, "561": 1 } }));
    expect(powered.laser_config).toEqual([{ wavelength_nm: 488, enabled: true, power_pct: 4.5 }]);
    expect(powered.channels[0]).toMatchObject({ excitation_nm: 488 });
  });

  it("says where the planes' positions come from: planned for a sweep the controller ran, measured when stepped or without a sweep", () => {
    const sweep = { piezo_start_um: 0, piezo_step_um: 1, galvo_start_deg: 0, galvo_step_deg: 0.02 };
    expect(sinkMetaOf(begin({ sweep, sweep_mode: "hardware" })).plane_positions).toBe("planned");
    expect(sinkMetaOf(begin({ sweep, sweep_mode: "stepped" })).plane_positions).toBe("measured");
    expect(sinkMetaOf(begin({ num_slices: 1, z_step_um: 0 })).plane_positions).toBe("measured");
  });
});
