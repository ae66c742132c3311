/*
 * gently_core.h — the C ABI between the hardware service and a microscope core.
 *
 * Two libraries implement it: libgently_sim.so (a simulated ASI Tiger diSPIM,
 * always built) and libgently_mmcore.so (a shim over Micro-Manager's CMMCore,
 * built only when MMCORE_DIR points at an MMCore build). The TypeScript side
 * binds this header once with koffi; which library is loaded is configuration.
 *
 * Conventions
 * - Every function returning int returns GC_OK (0) on success and a negative
 *   GC_E_* code on failure; gc_last_error() then holds a readable message
 *   (see Threads for whose).
 * - No C++ exception ever crosses this boundary.
 * - Pixels are always copied into a caller-given buffer (for the hardware
 *   service: a slot of the shared-memory ring), never returned as core-owned
 *   pointers.
 * - Units are in the names: _um micrometres, _deg degrees, _ms milliseconds.
 * - Text out-parameters are NUL-terminated and truncated to `cap` bytes;
 *   list results are JSON text.
 *
 * Threads
 * - Any function may be called from any thread, and calls on one core may run
 *   at the same time: a library serialises what its devices need itself.
 *   The hardware service runs everything that may wait on a device (moves,
 *   gc_wait_for_device, gc_set_config, gc_set_property, exposure, ROI,
 *   gc_start_sequence) on a worker thread, gc_snap and gc_pop_next on
 *   others, and reads state (gc_get_*, gc_list_*, gc_frame_bytes,
 *   gc_is_sequence_running) and calls gc_stop_sequence on its event loop
 *   meanwhile. So:
 *   - a call that waits (gc_wait_for_device on a moving stage, gc_snap
 *     exposing, gc_pop_next waiting for a frame) must not hold a lock that the
 *     state reads or gc_stop_sequence need: they answer while it waits;
 *   - gc_stop_sequence must take effect while another thread is in
 *     gc_pop_next (which then returns GC_E_NOT_RUNNING or its frame);
 *   - gc_close must not run at the same time as any other call on that core.
 * - Errors are per thread: gc_last_error(core) is the message of the calling
 *   thread's most recent call on that core if that call failed (each call
 *   clears it); otherwise the most recent failure on the core from any
 *   thread. A thread that reads it right after its own failing call gets that
 *   call's message, whatever other threads did meanwhile. The pointer stays
 *   valid until that thread's next call on the core.
 */
#ifndef GENTLY_CORE_H
#define GENTLY_CORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GC_ABI_VERSION 1

#define GC_OK 0
#define GC_E_ARGUMENT (-1)     /* bad argument (unknown device, NULL, bad size) */
#define GC_E_DEVICE (-2)       /* the device or core reported an error */
#define GC_E_BUFFER (-3)       /* caller's buffer too small */
#define GC_E_BUSY (-4)         /* a sequence is running */
#define GC_E_NOT_RUNNING (-5)  /* no sequence is running */
#define GC_E_TIMEOUT (-6)      /* no frame within the timeout */
#define GC_E_OVERFLOW (-7)     /* the core's own buffer overflowed (frames lost) */
#define GC_E_RANGE (-8)        /* the device refused the value itself: outside its travel or range,
                                  or not one it takes. The request was at fault, not the device:
                                  the hardware service answers limit_violation naming the field.
                                  GC_E_DEVICE stays for faults of the device (it did not answer,
                                  stalled, lost its connection). */

typedef struct gc_core gc_core;

/* Metadata of one frame, filled by gc_snap / gc_pop_next. */
typedef struct gc_frame_meta {
  uint64_t seq;             /* 0-based index within the sequence (0 for a snap) */
  uint64_t timestamp_us;    /* core's timestamp, microseconds since the epoch */
  uint32_t width;
  uint32_t height;
  uint32_t bytes_per_pixel; /* 2 for uint16 */
  int32_t camera_index;     /* index into gc_list_devices' cameras (multi-camera sequences) */
  double piezo_um;          /* sheet position when the frame was exposed */
  double galvo_deg;
  double x_um, y_um;        /* XY stage position when the frame was exposed */
} gc_frame_meta;

/* A light-sheet sweep: slice i is exposed at piezo_start_um + i*piezo_step_um
 * with the galvo at galvo_start_deg + i*galvo_step_deg (the diSPIM moves sheet
 * and detection objective together). */
typedef struct gc_sweep {
  uint32_t num_slices;
  double piezo_start_um;
  double piezo_step_um;
  double galvo_start_deg;
  double galvo_step_deg;
} gc_sweep;

int gc_abi_version(void);

/* Open a core. `config` is a path to the library's config file (sim: JSON,
 * mmcore: a Micro-Manager .cfg); NULL or "" gives the library's defaults.
 * On failure returns NULL and writes the reason to err (cap bytes). */
gc_core *gc_open(const char *config, char *err, size_t cap);
void gc_close(gc_core *core);
const char *gc_last_error(gc_core *core);

/* JSON: {"cameras":[...], "xy_stages":[...], "stages":[...], "scanners":[...],
 *        "config_groups":{"Laser":[presets...], "LED":[...]}, "other":[...],
 *        "core":{"version":"MMCore version 12.5.0", "device_api":75,
 *                "hardware_sweep":true|false}}
 * core.hardware_sweep: gc_start_sequence runs a gc_sweep itself (the
 * controller moves piezo and galvo per frame, e.g. an ASI Tiger). When false
 * it refuses a sweep (GC_E_ARGUMENT) and the caller steps the sweep: per
 * slice it moves piezo and galvo, waits for them and starts a sequence of
 * one frame per camera without a sweep. device_api is null for cores that
 * have none (the simulator). */
int gc_list_devices(gc_core *core, char *out, size_t cap);
/* JSON array of property names of one device. */
int gc_list_properties(gc_core *core, const char *device, char *out, size_t cap);
int gc_get_property(gc_core *core, const char *device, const char *prop, char *out, size_t cap);
int gc_set_property(gc_core *core, const char *device, const char *prop, const char *value);

/* Motion. Limits are NOT enforced here (MMCore has no limits API): the
 * hardware service checks its configured limits before calling these.
 * A set may return before the device arrives; gc_wait_for_device returns
 * once it is no longer busy (it may take seconds: an XY stage's move). */
int gc_get_xy_um(gc_core *core, const char *xy_stage, double *x_um, double *y_um);
int gc_set_xy_um(gc_core *core, const char *xy_stage, double x_um, double y_um);
int gc_get_position_um(gc_core *core, const char *stage, double *pos_um);
int gc_set_position_um(gc_core *core, const char *stage, double pos_um);
int gc_get_scanner_deg(gc_core *core, const char *scanner, double *a_deg, double *b_deg);
int gc_set_scanner_deg(gc_core *core, const char *scanner, double a_deg, double b_deg);
int gc_wait_for_device(gc_core *core, const char *device);

/* Config groups (e.g. group "Laser", preset "488 only"). */
int gc_set_config(gc_core *core, const char *group, const char *preset);
int gc_get_config(gc_core *core, const char *group, char *out, size_t cap);

/* Cameras. */
int gc_set_exposure_ms(gc_core *core, const char *camera, double exposure_ms);
int gc_get_exposure_ms(gc_core *core, const char *camera, double *exposure_ms);
/* The ROI is in sensor (unbinned) pixels at any binning, and must be a whole
 * number of binned pixels; a frame is (width / binning) x (height / binning). */
int gc_set_roi(gc_core *core, const char *camera, int x, int y, int width, int height);
int gc_get_roi(gc_core *core, const char *camera, int *x, int *y, int *width, int *height);
/* Size in bytes of one frame of `camera` with its current ROI. */
int gc_frame_bytes(gc_core *core, const char *camera, size_t *bytes);

/* Snap one frame of `camera` into buf (cap bytes). */
int gc_snap(gc_core *core, const char *camera, void *buf, size_t cap, gc_frame_meta *meta);

/* Sequences. `cameras` is a comma-separated list ("HamCam1" or
 * "HamCam1,HamCam2"); frames of several cameras interleave and carry
 * camera_index. sweep may be NULL (frames at the current position).
 * count = frames per camera. */
int gc_start_sequence(gc_core *core, const char *cameras, uint32_t count, const gc_sweep *sweep);
int gc_stop_sequence(gc_core *core);
int gc_is_sequence_running(gc_core *core);
/* Copy the next frame into buf. Waits up to timeout_ms. Returns GC_OK,
 * GC_E_TIMEOUT, GC_E_NOT_RUNNING (sequence finished and drained) or an error.
 * `dropped` (may be NULL) receives the number of frames the core lost since
 * the previous call (real cameras' buffer overruns; always 0 in the sim). */
int gc_pop_next(gc_core *core, void *buf, size_t cap, gc_frame_meta *meta, uint32_t timeout_ms,
                uint64_t *dropped);

#ifdef __cplusplus
}
#endif
#endif
