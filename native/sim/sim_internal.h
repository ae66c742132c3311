/* Internals shared by the sim's core API (gently_sim.c) and renderer (sim_render.c). */
#ifndef GENTLY_SIM_INTERNAL_H
#define GENTLY_SIM_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include "gently_sim.h"

#define SIM_MAX_EMBRYOS 32
#define SIM_MAX_NUCLEI 32
#define SIM_NUM_CAMERAS 3
#define SIM_MAX_SENSOR 16384
/* Motion devices with a move time: XY, Z, F, piezo, scanner. */
#define SIM_NUM_MOTION 5
/* Stage axes with a travel: x, y, z, f, piezo. */
typedef enum { SIM_AXIS_X, SIM_AXIS_Y, SIM_AXIS_Z, SIM_AXIS_F, SIM_AXIS_PIEZO, SIM_NUM_AXES } sim_axis;
/* Laser lines of the combiner device, in nm: 405, 488, 561, 637. */
#define SIM_NUM_LASER_LINES 4

/* Sample-independent detector constants (ADU; the sim's gain is 1 ADU/e-). */
#define SIM_DARK_OFFSET_ADU 100.0f
#define SIM_READ_NOISE_ADU 1.6f

typedef struct {
  double x_um, y_um, z_um, r_um;
} sim_nucleus;

typedef struct {
  double x_um, y_um, z_um;    /* centre in stage coordinates (z: piezo coordinates) */
  double a_um, b_um, c_um;    /* semi-axes: long, short (in XY), thickness (z) */
  double angle_deg;           /* long axis vs. stage x, counter-clockwise */
  int num_nuclei;
  sim_nucleus nuclei[SIM_MAX_NUCLEI]; /* absolute stage/piezo coordinates */
} sim_embryo;

typedef struct {
  const char *name;
  int light_sheet;
  int sensor_width, sensor_height;
  double pixel_size_um; /* unbinned, at the sample */
  double exposure_ms;
  int roi_x, roi_y, roi_width, roi_height, binning;
} sim_camera;

/* Embryo fields a config may pin; unset ones are drawn from the seed. */
typedef struct {
  int has_x, has_y, has_z, has_a, has_b, has_c, has_angle;
  double x_um, y_um, z_um, a_um, b_um, c_um, angle_deg;
} sim_embryo_spec;

struct gc_core {
  pthread_mutex_t mu; /* all state below */
  /* Held for reading while a frame renders outside `mu` (so gc_get_* calls
   * are not stalled for a frame time) and for writing while Sim/Seed
   * regenerates the embryos. Order: mu, then sample_lock. */
  pthread_rwlock_t sample_lock;
  char err[512];

  uint64_t seed;
  int num_embryos;
  int num_specs; /* embryos pinned by the config (first num_specs embryos) */
  sim_embryo_spec specs[SIM_MAX_EMBRYOS];
  sim_embryo embryos[SIM_MAX_EMBRYOS];
  double start_x_um, start_y_um; /* where embryo 0 is placed near */

  sim_camera cameras[SIM_NUM_CAMERAS];
  double x_um, y_um, z_um, f_um, piezo_um, galvo_a_deg, galvo_b_deg;
  int laser;    /* index into sim_laser_presets */
  int led_open;
  int core_camera;
  int spim_num_slices;
  double frame_interval_ms;
  uint64_t noise_next;

  /* A core without hardware sequencing (config "hardware_sweep": false):
   * gc_start_sequence refuses a sweep, as MMCore does on non-Tiger stages. */
  int hardware_sweep;
  /* How long a move of each motion device takes (config "move_ms"); a move
   * holds its device busy until then and gc_wait_for_device sleeps it out
   * without holding `mu`. Indexed by sim_motion. */
  double move_ms[SIM_NUM_MOTION];
  uint64_t busy_until_ns[SIM_NUM_MOTION];
  /* Where a set piezo and galvo settle relative to their targets (config
   * "settle_error"): they read back, and image, what they reached. */
  double piezo_settle_error_um;
  double galvo_settle_error_deg;
  /* The stages' own travel (config "travel_um"), past which a set fails with
   * GC_E_RANGE as a real stage's controller refuses it. Indexed by sim_axis. */
  int has_travel[SIM_NUM_AXES];
  double travel_min_um[SIM_NUM_AXES], travel_max_um[SIM_NUM_AXES];
  /* Laser power set points in percent, one per line of SIM_LASER_LINES_NM. */
  double laser_power_pct[SIM_NUM_LASER_LINES];

  /* running sequence */
  int seq_running;
  int seq_num_cameras;
  int seq_cameras[SIM_NUM_CAMERAS];
  uint32_t seq_count;
  uint64_t seq_popped;
  uint64_t seq_noise_base;
  int seq_has_sweep;
  gc_sweep seq_sweep;
  gcsim_state seq_state[SIM_NUM_CAMERAS];
  uint64_t seq_start_ns;
};

extern const char *const sim_laser_presets[];
extern const int sim_num_laser_presets;
int sim_laser_index(const char *preset);

/* Draws the embryos from seed and specs (called by gc_open and on Sim/Seed). */
void sim_generate_sample(gc_core *core);
/* Frame size of a camera for a state; 0 if the state is invalid (message in why). */
int sim_check_state(const gc_core *core, int camera, const gcsim_state *st, char *why, size_t cap);
/* Renders into out (width*height uint16); the state must have passed sim_check_state. */
int sim_render(const gc_core *core, int camera, const gcsim_state *st, uint64_t noise_index, uint16_t *out);
double sim_round_piezo(double um);
/* A rolling-shutter sCMOS (ORCA-Flash4.0 class) reads its rows one line time
 * each, whatever the binning: 2048 rows take ~10 ms (100 frames/s full frame),
 * a 512-row ROI ~2.5 ms. */
#define SIM_LINE_TIME_MS 0.00487
/* Camera timing for a state (ms): rolling-shutter readout of the ROI, the
 * time from a snap to its frame, and the interval between sequence frames. */
double sim_readout_ms(const gcsim_state *st);
double sim_first_frame_ms(const gcsim_state *st);
double sim_frame_interval_ms(const gcsim_state *st);

#endif
