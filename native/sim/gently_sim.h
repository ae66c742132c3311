/*
 * gently_sim.h — sim-only entry points of libgently_sim.so (ground truth for tests).
 *
 * libgently_sim.so implements gently_core.h as a simulated ASI Tiger diSPIM:
 *
 *   XY stage  "XYStage:XY:31"    start x=1500 y=0 µm
 *   Z stage   "ZStage:Z:32"      start 150 µm (focus of the bottom camera)
 *   F-drive   "ZStage:V:37"      start 1000 µm (reported only)
 *   Piezo     "PiezoStage:P:34"  start 0 µm, positions rounded to 0.001 µm
 *   Scanner   "Scanner:AB:33"    A = sheet-scan axis (no image effect),
 *                                B = slice axis = the "galvo" of gc_sweep and
 *                                gc_frame_meta.galvo_deg
 *   Cameras   "HamCam1", "HamCam2" (camera_index 0, 1): light-sheet sCMOS,
 *             2048x2048 sensor, PixelSize_um 0.1625 (6.5 µm pixels / 40x),
 *             ROI x=0 y=768 w=2048 h=512; "Bottom PCO" (index 2): 2048x2048,
 *             PixelSize_um 0.65 (6.5 µm / 10x), full-sensor ROI. uint16,
 *             exposure 10 ms. ROI is in unbinned sensor pixels; with binning
 *             b a frame is (w/b)x(h/b) pixels of b*PixelSize_um.
 *   Groups    "Laser": "ALL OFF" (start), "ALL ON", "405 only", "488 only",
 *             "561 only", "488 and 561", "637 only"; "LED": "Open", "Closed" (start)
 *   Other     "Core" (Camera, XYStage, Focus, Galvo), "Sim" (Seed, NoiseIndex,
 *             FrameIntervalMs), "LaserCombiner" (PowerSetpoint405,
 *             PowerSetpoint488, PowerSetpoint561, PowerSetpoint637: percent,
 *             0..100, no image effect)
 *   Core      gc_list_devices' "core": version "gently-sim 1.1", device_api
 *             null, hardware_sweep true unless the config says false
 *
 * Config keys besides the sample's: "hardware_sweep": false makes a core
 * without hardware sequencing (gc_start_sequence refuses a sweep: the caller
 * steps it); "move_ms": {"xy", "z", "f", "piezo", "scanner"} gives each move a
 * duration: the position reads back at once, and gc_wait_for_device sleeps
 * until the move is done without holding the core's lock;
 * "settle_error": {"piezo_um", "galvo_deg"} makes a set piezo or galvo land
 * that far from its target (read back and imaged where it landed; a
 * hardware sweep is unaffected);
 * "travel_um": {"x"|"y"|"z"|"f"|"piezo": {"min", "max"}} gives a stage axis
 * its own travel: a set past it fails with GC_E_RANGE (as do property values
 * and exposures out of range);
 * "cameras": {"<name>": {"binning": 1|2|4}} starts a camera binned.
 *
 * Image model (all in photo-electrons = ADU, gain 1; dark offset 100 ADU,
 * read noise 1.6 ADU):
 * - Pixel (i, j) of a frame is at stage coordinates
 *     x_um = stage_x + (roi_x + (i+0.5)*b - sensor_w/2) * px_um,
 *     y_um = stage_y + (roi_y + (j+0.5)*b - sensor_h/2) * px_um
 *   (sensor centre = stage position; px_um the unbinned pixel size).
 * - Light-sheet cameras image the plane z_um = piezo_um. An embryo's
 *   cross-section there is fluorescent (cytoplasm with fine granules, two
 *   crossed gratings of ~1.5 and ~2.2 µm fixed to the sample, plus brighter
 *   nuclei), scaled by the laser preset and exposure. The sheet is in focus when
 *   galvo_b_deg = GCSIM_GALVO_SLOPE_DEG_PER_UM * piezo_um + GCSIM_GALVO_OFFSET_DEG;
 *   a sheet offset d_um = (galvo_b_deg - that) / slope gives focus
 *   f = 1 / (1 + (d_um / 2 µm)^2), which dims the signal (x (0.5 + 0.5 f)) and
 *   blends the nuclei and granule texture into its mean (x f), so focus
 *   sweeps peak there.
 * - The bottom camera shows a brightfield image only with LED "Open":
 *   bright background, embryos darker (absorption ~ chord length) with
 *   brighter nuclei; contrast falls off as 1 / (1 + ((z - 150 µm) / 40 µm)^2)
 *   with the Z stage position z. Lasers do not reach it.
 * - All signal is proportional to exposure_ms and to binning^2.
 * - Embryos lie at piezo 45…55 µm (± their ~15 µm half-thickness), inside
 *   the default sweep of 50 ± 25 µm.
 * - Timing of a rolling-shutter sCMOS: readout = ROI rows (unbinned) ×
 *   4.87 µs (2048 rows ≈ 10 ms). A snap returns exposure + readout after it
 *   was called; in a sequence slice 0 is ready after exposure + readout and
 *   each next slice max(exposure, readout) later (the next exposure overlaps
 *   the readout), all cameras of a slice at once: 2048×512 at 10 ms runs at
 *   100 frames/s. Config "frame_interval_ms" > 0 replaces that interval.
 * - Noise: value = round(offset + S + sqrt(S + read^2) * g), clamped to
 *   uint16, where g is an Irwin-Hall(4) approximation of N(0,1) drawn from a
 *   32-bit hash of (seed, camera_index, noise_index, sensor pixel index).
 *   Noise is keyed on sensor (binned) coordinates, so an ROI frame is exactly
 *   the crop of the full frame rendered with the same noise index.
 *
 * Noise index rule: the core keeps a counter N (0 after gc_open; read or set
 * through property Sim/NoiseIndex). gc_snap uses N and increments it.
 * gc_start_sequence(cameras, count, ...) reserves N .. N + count*ncam - 1 and
 * sets N += count*ncam; the frame with meta.seq = i (per-camera frame index)
 * of the j-th camera in the `cameras` list has noise index N0 + i*ncam + j
 * (frames pop in that order). A sequence frame is rendered with the state
 * captured at gc_start_sequence, except piezo_um = meta.piezo_um and
 * galvo_b_deg = meta.galvo_deg.
 */
#ifndef GENTLY_SIM_H
#define GENTLY_SIM_H

#include "gently_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The sheet is in focus on the plane of the default sweep at every slice
 * (piezo 50 ± 25 µm with galvo 0 ± 0.5°). */
#define GCSIM_GALVO_SLOPE_DEG_PER_UM 0.02
#define GCSIM_GALVO_OFFSET_DEG (-1.0)

/* Everything a frame depends on besides the sample, seed and noise index. */
typedef struct gcsim_state {
  double x_um, y_um;     /* XY stage */
  double z_um;           /* Z stage (bottom camera focus) */
  double f_um;           /* F-drive */
  double piezo_um;       /* sheet plane */
  double galvo_a_deg;    /* scanner A (no effect on the image) */
  double galvo_b_deg;    /* scanner B: sheet position */
  double exposure_ms;
  int32_t roi_x, roi_y, roi_width, roi_height; /* unbinned sensor pixels */
  int32_t binning;
  int32_t led_open;      /* 1 = LED "Open" */
  char laser_preset[32]; /* a "Laser" preset name */
} gcsim_state;

/* JSON ground truth: {"seed", "embryos":[{"x_um","y_um","z_um","a_um","b_um",
 * "c_um","angle_deg","nuclei"}], "cameras":[{"name","pixel_size_um",
 * "sensor_width","sensor_height"}], "galvo_slope_deg_per_um",
 * "galvo_offset_deg", "noise_index", "line_time_ms" (camera row readout)}. */
int gcsim_truth_json(gc_core *core, char *out, size_t cap);
/* Current state of the core as seen by `camera` (its ROI, exposure, binning). */
int gcsim_get_state(gc_core *core, const char *camera, gcsim_state *state);
/* Render a frame of `camera` for an explicit state; byte-identical to what
 * gc_snap / gc_pop_next produced for that state and noise index. */
int gcsim_render(gc_core *core, const char *camera, const gcsim_state *state, uint64_t noise_index, void *buf,
                 size_t cap);

#ifdef __cplusplus
}
#endif
#endif
