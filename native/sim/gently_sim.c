/* gently_core.h implemented as a simulated ASI Tiger diSPIM (see gently_sim.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim_internal.h"
#include "sim_json.h"

#define DEV_XY "XYStage:XY:31"
#define DEV_Z "ZStage:Z:32"
#define DEV_F "ZStage:V:37"
#define DEV_PIEZO "PiezoStage:P:34"
#define DEV_SCANNER "Scanner:AB:33"
#define DEV_CORE "Core"
#define DEV_SIM "Sim"
#define DEV_LASERS "LaserCombiner"
#define SIM_CORE_VERSION "gently-sim 1.1"

/* Laser lines of DEV_LASERS; property "PowerSetpoint<nm>" is the line's power in percent. */
static const int laser_lines_nm[SIM_NUM_LASER_LINES] = {405, 488, 561, 637};

static const char *const led_presets[] = {"Open", "Closed"};

typedef enum { D_NONE, D_CAMERA, D_XY, D_Z, D_F, D_PIEZO, D_SCANNER, D_CORE, D_SIM, D_LASERS } dev_kind;

/* Index into move_ms / busy_until_ns of a motion device; -1 for others. */
static int motion_index(dev_kind k) {
  switch (k) {
    case D_XY: return 0;
    case D_Z: return 1;
    case D_F: return 2;
    case D_PIEZO: return 3;
    case D_SCANNER: return 4;
    default: return -1;
  }
}

/* ---- helpers --------------------------------------------------------------- */

/* Each thread's last failure (gently_core.h, "Threads"): a call's message is
 * read by the thread that made it, whatever other threads did meanwhile. */
static _Thread_local char thread_err[512];
static _Thread_local const gc_core *thread_err_core;

/* Every call starts by forgetting the calling thread's previous failure. */
static void clear_thread_error(void) { thread_err_core = NULL; }

static int fail(gc_core *c, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(thread_err, sizeof thread_err, fmt, ap);
  va_end(ap);
  thread_err_core = c;
  memcpy(c->err, thread_err, sizeof c->err);
  return code;
}

static int out_text(gc_core *c, char *out, size_t cap, const char *fmt, ...) {
  if (!out || cap == 0) return fail(c, GC_E_ARGUMENT, "output buffer is NULL or empty");
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(out, cap, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= cap) return fail(c, GC_E_BUFFER, "result needs %d bytes, buffer has %zu", n + 1, cap);
  return GC_OK;
}

static uint64_t wall_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000ULL;
}

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

#ifdef _WIN32
#include <stdatomic.h>
/* winmm, declared here rather than through windows.h, whose macros would clash with this file. */
__declspec(dllimport) unsigned int __stdcall timeBeginPeriod(unsigned int period_ms);
#endif

/* Sleeps at least ns. The clock is checked again after each sleep: signals
 * cut sleeps short, and Windows' sleeps may end up to a timer tick early. */
static void sleep_ns(uint64_t ns) {
#ifdef _WIN32
  /* Windows sleeps in timer ticks, 15.6 ms unless a process asks for finer
   * ones: 1 ms keeps frames at the camera's pace (10 ms exposures). */
  static atomic_flag fine_timer = ATOMIC_FLAG_INIT;
  if (!atomic_flag_test_and_set(&fine_timer)) timeBeginPeriod(1);
#endif
  uint64_t until = mono_ns() + ns;
  for (uint64_t now = mono_ns(); now < until; now = mono_ns()) {
    uint64_t left = until - now;
    struct timespec ts = {(time_t)(left / 1000000000ULL), (long)(left % 1000000000ULL)};
    nanosleep(&ts, NULL);
  }
}

static int camera_index(const gc_core *c, const char *name) {
  for (int i = 0; i < SIM_NUM_CAMERAS; i++)
    if (name && strcmp(name, c->cameras[i].name) == 0) return i;
  return -1;
}

static dev_kind device_kind(const gc_core *c, const char *name, int *cam) {
  if (!name) return D_NONE;
  int ci = camera_index(c, name);
  if (ci >= 0) {
    if (cam) *cam = ci;
    return D_CAMERA;
  }
  static const struct {
    const char *name;
    dev_kind kind;
  } devs[] = {{DEV_XY, D_XY},           {DEV_Z, D_Z},       {DEV_F, D_F},    {DEV_PIEZO, D_PIEZO},
              {DEV_SCANNER, D_SCANNER}, {DEV_CORE, D_CORE}, {DEV_SIM, D_SIM},  {DEV_LASERS, D_LASERS}};
  for (size_t i = 0; i < sizeof devs / sizeof devs[0]; i++)
    if (strcmp(name, devs[i].name) == 0) return devs[i].kind;
  return D_NONE;
}

static int unknown_device(gc_core *c, const char *name) {
  return fail(c, GC_E_ARGUMENT, "unknown device '%s'", name ? name : "(null)");
}

static int camera_in_sequence(const gc_core *c, int cam) {
  if (!c->seq_running) return 0;
  for (int i = 0; i < c->seq_num_cameras; i++)
    if (c->seq_cameras[i] == cam) return 1;
  return 0;
}

static int parse_double(const char *s, double *v) {
  if (!s || !*s) return 0;
  char *end = NULL;
  errno = 0;
  *v = strtod(s, &end);
  while (end && (*end == ' ' || *end == '\t')) end++;
  return errno == 0 && end && *end == '\0' && isfinite(*v);
}

static void state_for(const gc_core *c, int cam, gcsim_state *st) {
  const sim_camera *k = &c->cameras[cam];
  memset(st, 0, sizeof *st);
  st->x_um = c->x_um;
  st->y_um = c->y_um;
  st->z_um = c->z_um;
  st->f_um = c->f_um;
  st->piezo_um = c->piezo_um;
  st->galvo_a_deg = c->galvo_a_deg;
  st->galvo_b_deg = c->galvo_b_deg;
  st->exposure_ms = k->exposure_ms;
  st->roi_x = k->roi_x;
  st->roi_y = k->roi_y;
  st->roi_width = k->roi_width;
  st->roi_height = k->roi_height;
  st->binning = k->binning;
  st->led_open = c->led_open;
  snprintf(st->laser_preset, sizeof st->laser_preset, "%s", sim_laser_presets[c->laser]);
}

static size_t state_frame_bytes(const gcsim_state *st) {
  return (size_t)(st->roi_width / st->binning) * (size_t)(st->roi_height / st->binning) * 2u;
}

static void fill_meta(gc_frame_meta *m, const gcsim_state *st, int cam, uint64_t seq) {
  if (!m) return;
  memset(m, 0, sizeof *m);
  m->seq = seq;
  m->timestamp_us = wall_us();
  m->width = (uint32_t)(st->roi_width / st->binning);
  m->height = (uint32_t)(st->roi_height / st->binning);
  m->bytes_per_pixel = 2;
  m->camera_index = cam;
  m->piezo_um = st->piezo_um;
  m->galvo_deg = st->galvo_b_deg;
  m->x_um = st->x_um;
  m->y_um = st->y_um;
}

/* ---- config ---------------------------------------------------------------- */

static void default_camera(sim_camera *k, const char *name, int light_sheet, int w, int h, double px) {
  k->name = name;
  k->light_sheet = light_sheet;
  k->sensor_width = w;
  k->sensor_height = h;
  k->pixel_size_um = px;
  k->exposure_ms = 10.0;
  k->binning = 1;
  k->roi_x = 0;
  k->roi_width = w;
  /* Light-sheet cameras default to a 512-row band through the centre (the sheet). */
  k->roi_height = light_sheet && h > 512 ? 512 : h;
  k->roi_y = (h - k->roi_height) / 2;
}

static int want_number(const sj_node *n, const char *what, double lo, double hi, double *v, char *err, size_t cap) {
  if (!n || n->type != SJ_NUMBER || !(n->number >= lo && n->number <= hi)) {
    snprintf(err, cap, "config: '%s' must be a number in [%g, %g]", what, lo, hi);
    return 0;
  }
  *v = n->number;
  return 1;
}

/* "move_ms": {"xy": 10000, "z": ..., "f": ..., "piezo": ..., "scanner": ...}: how long each move takes. */
static int apply_move_times(gc_core *c, const sj_node *m, char *err, size_t cap) {
  if (m->type != SJ_OBJECT) return snprintf(err, cap, "config: 'move_ms' must be an object"), 0;
  static const char *const names[SIM_NUM_MOTION] = {"xy", "z", "f", "piezo", "scanner"};
  for (const sj_node *f = m->child; f; f = f->next) {
    int i = 0;
    while (i < SIM_NUM_MOTION && strcmp(f->key, names[i]) != 0) i++;
    if (i == SIM_NUM_MOTION)
      return snprintf(err, cap, "config: unknown key 'move_ms.%s' (have xy, z, f, piezo, scanner)", f->key), 0;
    if (!want_number(f, f->key, 0, 600000, &c->move_ms[i], err, cap)) return 0;
  }
  return 1;
}

/* "settle_error": {"piezo_um": 0.3, "galvo_deg": 0.002}: a set piezo or galvo lands that far from its target. */
static int apply_settle_error(gc_core *c, const sj_node *m, char *err, size_t cap) {
  if (m->type != SJ_OBJECT) return snprintf(err, cap, "config: 'settle_error' must be an object"), 0;
  for (const sj_node *f = m->child; f; f = f->next) {
    if (strcmp(f->key, "piezo_um") == 0) {
      if (!want_number(f, "settle_error.piezo_um", -10, 10, &c->piezo_settle_error_um, err, cap)) return 0;
    } else if (strcmp(f->key, "galvo_deg") == 0) {
      if (!want_number(f, "settle_error.galvo_deg", -1, 1, &c->galvo_settle_error_deg, err, cap)) return 0;
    } else {
      return snprintf(err, cap, "config: unknown key 'settle_error.%s' (have piezo_um, galvo_deg)", f->key), 0;
    }
  }
  return 1;
}

/* "travel_um": {"x": {"min": 0, "max": 20000}, "piezo": {...}, ...}: each stage axis's own travel. */
static int apply_travel(gc_core *c, const sj_node *m, char *err, size_t cap) {
  if (m->type != SJ_OBJECT) return snprintf(err, cap, "config: 'travel_um' must be an object"), 0;
  static const char *const names[SIM_NUM_AXES] = {"x", "y", "z", "f", "piezo"};
  for (const sj_node *f = m->child; f; f = f->next) {
    int i = 0;
    while (i < SIM_NUM_AXES && strcmp(f->key, names[i]) != 0) i++;
    if (i == SIM_NUM_AXES) return snprintf(err, cap, "config: unknown key 'travel_um.%s' (have x, y, z, f, piezo)", f->key), 0;
    char what[64];
    snprintf(what, sizeof what, "travel_um.%s.min", f->key);
    if (f->type != SJ_OBJECT) return snprintf(err, cap, "config: 'travel_um.%s' must be an object with min and max", f->key), 0;
    if (!want_number(sj_get(f, "min"), what, -1e6, 1e6, &c->travel_min_um[i], err, cap)) return 0;
    snprintf(what, sizeof what, "travel_um.%s.max", f->key);
    if (!want_number(sj_get(f, "max"), what, c->travel_min_um[i], 1e6, &c->travel_max_um[i], err, cap)) return 0;
    c->has_travel[i] = 1;
  }
  return 1;
}

static int apply_config(gc_core *c, const sj_node *root, char *err, size_t cap) {
  if (root->type != SJ_OBJECT) return snprintf(err, cap, "config: top level must be a JSON object"), 0;
  double v;
  for (const sj_node *m = root->child; m; m = m->next) {
    const char *key = m->key;
    if (strcmp(key, "seed") == 0) {
      if (!want_number(m, "seed", 0, 9007199254740991.0, &v, err, cap)) return 0;
      c->seed = (uint64_t)v;
    } else if (strcmp(key, "num_embryos") == 0) {
      if (!want_number(m, "num_embryos", 0, SIM_MAX_EMBRYOS, &v, err, cap)) return 0;
      c->num_embryos = (int)v;
    } else if (strcmp(key, "frame_interval_ms") == 0) {
      if (!want_number(m, "frame_interval_ms", 0, 1e6, &c->frame_interval_ms, err, cap)) return 0;
    } else if (strcmp(key, "hardware_sweep") == 0) {
      if (m->type != SJ_BOOL) return snprintf(err, cap, "config: 'hardware_sweep' must be true or false"), 0;
      c->hardware_sweep = m->number != 0;
    } else if (strcmp(key, "move_ms") == 0) {
      if (!apply_move_times(c, m, err, cap)) return 0;
    } else if (strcmp(key, "settle_error") == 0) {
      if (!apply_settle_error(c, m, err, cap)) return 0;
    } else if (strcmp(key, "travel_um") == 0) {
      if (!apply_travel(c, m, err, cap)) return 0;
    } else if (strcmp(key, "start") == 0) {
      if (m->type != SJ_OBJECT) return snprintf(err, cap, "config: 'start' must be an object"), 0;
      for (const sj_node *f = m->child; f; f = f->next) {
        static const char *const names[] = {"x_um", "y_um", "z_um", "f_um", "piezo_um", "galvo_a_deg", "galvo_b_deg"};
        double *dst[] = {&c->x_um, &c->y_um, &c->z_um, &c->f_um, &c->piezo_um, &c->galvo_a_deg, &c->galvo_b_deg};
        size_t i = 0;
        while (i < 7 && strcmp(f->key, names[i]) != 0) i++;
        if (i == 7) return snprintf(err, cap, "config: unknown key 'start.%s'", f->key), 0;
        if (!want_number(f, names[i], -1e6, 1e6, dst[i], err, cap)) return 0;
      }
      c->piezo_um = sim_round_piezo(c->piezo_um);
    } else if (strcmp(key, "cameras") == 0) {
      if (m->type != SJ_OBJECT) return snprintf(err, cap, "config: 'cameras' must be an object"), 0;
      for (const sj_node *f = m->child; f; f = f->next) {
        int ci = camera_index(c, f->key);
        if (ci < 0) return snprintf(err, cap, "config: unknown camera '%s'", f->key), 0;
        if (f->type != SJ_OBJECT) return snprintf(err, cap, "config: camera '%s' must be an object", f->key), 0;
        sim_camera *k = &c->cameras[ci];
        int w = k->sensor_width, h = k->sensor_height;
        double px = k->pixel_size_um;
        int binning = 1;
        for (const sj_node *g = f->child; g; g = g->next) {
          if (strcmp(g->key, "sensor_width") == 0) {
            if (!want_number(g, "sensor_width", 4, SIM_MAX_SENSOR, &v, err, cap)) return 0;
            w = (int)v & ~3; /* multiple of 4 so every binning divides it */
          } else if (strcmp(g->key, "sensor_height") == 0) {
            if (!want_number(g, "sensor_height", 4, SIM_MAX_SENSOR, &v, err, cap)) return 0;
            h = (int)v & ~3;
          } else if (strcmp(g->key, "pixel_size_um") == 0) {
            if (!want_number(g, "pixel_size_um", 0.001, 100, &px, err, cap)) return 0;
          } else if (strcmp(g->key, "binning") == 0) {
            if (!want_number(g, "binning", 1, 4, &v, err, cap) || (v != 1 && v != 2 && v != 4))
              return snprintf(err, cap, "config: 'cameras.%s.binning' must be 1, 2 or 4", f->key), 0;
            binning = (int)v;
          } else {
            return snprintf(err, cap, "config: unknown key 'cameras.%s.%s'", f->key, g->key), 0;
          }
        }
        default_camera(k, k->name, k->light_sheet, w, h, px);
        /* The default ROI (whole sensor or a centred band of multiples of 4 rows) is on every binning's grid. */
        k->binning = binning;
      }
    } else if (strcmp(key, "embryos") == 0) {
      if (m->type != SJ_ARRAY) return snprintf(err, cap, "config: 'embryos' must be an array"), 0;
      int n = 0;
      for (const sj_node *e = m->child; e; e = e->next, n++) {
        if (n >= SIM_MAX_EMBRYOS) return snprintf(err, cap, "config: at most %d embryos", SIM_MAX_EMBRYOS), 0;
        if (e->type != SJ_OBJECT) return snprintf(err, cap, "config: embryos[%d] must be an object", n), 0;
        sim_embryo_spec *sp = &c->specs[n];
        memset(sp, 0, sizeof *sp);
        for (const sj_node *f = e->child; f; f = f->next) {
          static const char *const names[] = {"x_um", "y_um", "z_um", "a_um", "b_um", "c_um", "angle_deg"};
          double *dst[] = {&sp->x_um, &sp->y_um, &sp->z_um, &sp->a_um, &sp->b_um, &sp->c_um, &sp->angle_deg};
          int *has[] = {&sp->has_x, &sp->has_y, &sp->has_z, &sp->has_a, &sp->has_b, &sp->has_c, &sp->has_angle};
          size_t i = 0;
          while (i < 7 && strcmp(f->key, names[i]) != 0) i++;
          if (i == 7) return snprintf(err, cap, "config: unknown key 'embryos[%d].%s'", n, f->key), 0;
          double lo = i >= 3 && i <= 5 ? 1.0 : -1e6, hi = i >= 3 && i <= 5 ? 500.0 : 1e6;
          if (!want_number(f, names[i], lo, hi, dst[i], err, cap)) return 0;
          *has[i] = 1;
        }
      }
      c->num_specs = n;
      if (!sj_get(root, "num_embryos")) c->num_embryos = n;
    } else {
      return snprintf(err, cap, "config: unknown key '%s'", key), 0;
    }
  }
  if (c->num_specs > c->num_embryos) c->num_embryos = c->num_specs;
  return 1;
}

static char *read_file(const char *path, char *err, size_t cap) {
  FILE *f = fopen(path, "rb");
  if (!f) return snprintf(err, cap, "config '%s': %s", path, strerror(errno)), NULL;
  char *buf = malloc(1 << 20);
  size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
  int too_big = buf && n == (1 << 20) - 1 && fgetc(f) != EOF;
  fclose(f);
  if (!buf || too_big) {
    free(buf);
    snprintf(err, cap, "config '%s': %s", path, buf ? "larger than 1 MiB" : "out of memory");
    return NULL;
  }
  buf[n] = '\0';
  return buf;
}

/* ---- lifecycle ------------------------------------------------------------- */

int gc_abi_version(void) { return GC_ABI_VERSION; }

gc_core *gc_open(const char *config, char *err, size_t cap) {
  char scratch[8];
  if (!err || cap == 0) {
    err = scratch;
    cap = sizeof scratch;
  }
  err[0] = '\0';
  gc_core *c = calloc(1, sizeof *c);
  if (!c) return snprintf(err, cap, "out of memory"), NULL;
  pthread_mutex_init(&c->mu, NULL);
  pthread_rwlock_init(&c->sample_lock, NULL);
  c->seed = 1;
  c->num_embryos = 4;
  c->x_um = 1500.0;
  c->y_um = 0.0;
  c->z_um = 150.0;
  c->f_um = 1000.0;
  c->laser = 0;    /* ALL OFF */
  c->led_open = 0; /* Closed */
  c->spim_num_slices = 50;
  c->hardware_sweep = 1;
  default_camera(&c->cameras[0], "HamCam1", 1, 2048, 2048, 0.1625);
  default_camera(&c->cameras[1], "HamCam2", 1, 2048, 2048, 0.1625);
  default_camera(&c->cameras[2], "Bottom PCO", 0, 2048, 2048, 0.65);
  c->core_camera = 0;
  if (config && *config) {
    char *text = read_file(config, err, cap);
    if (!text) {
      gc_close(c);
      return NULL;
    }
    sj_node *root = sj_parse(text, err, cap);
    free(text);
    int ok = root && apply_config(c, root, err, cap);
    sj_free(root);
    if (!ok) {
      gc_close(c);
      return NULL;
    }
  }
  c->start_x_um = c->x_um;
  c->start_y_um = c->y_um;
  sim_generate_sample(c);
  return c;
}

void gc_close(gc_core *c) {
  if (!c) return;
  pthread_rwlock_destroy(&c->sample_lock);
  pthread_mutex_destroy(&c->mu);
  free(c);
}

const char *gc_last_error(gc_core *c) {
  if (!c) return "core is NULL";
  return thread_err_core == c ? thread_err : c->err;
}

#define LOCK(c)                                  \
  do {                                           \
    clear_thread_error();                        \
    if (!(c)) return GC_E_ARGUMENT;              \
    pthread_mutex_lock(&(c)->mu);                \
  } while (0)
#define RETURN(c, v)                  \
  do {                                \
    int rv_ = (v);                    \
    pthread_mutex_unlock(&(c)->mu);   \
    return rv_;                       \
  } while (0)

/* ---- devices and properties ------------------------------------------------- */

/* Index of the laser line a "PowerSetpoint<nm>" property names; -1 if none. */
static int laser_line_of(const char *prop) {
  for (int i = 0; i < SIM_NUM_LASER_LINES; i++) {
    char name[32];
    snprintf(name, sizeof name, "PowerSetpoint%d", laser_lines_nm[i]);
    if (strcmp(prop, name) == 0) return i;
  }
  return -1;
}

int gc_list_devices(gc_core *c, char *out, size_t cap) {
  LOCK(c);
  RETURN(c, out_text(c, out, cap,
                     "{\"cameras\":[\"%s\",\"%s\",\"%s\"],\"xy_stages\":[\"" DEV_XY "\"],"
                     "\"stages\":[\"" DEV_Z "\",\"" DEV_F "\",\"" DEV_PIEZO "\"],\"scanners\":[\"" DEV_SCANNER "\"],"
                     "\"config_groups\":{\"Laser\":[\"ALL OFF\",\"ALL ON\",\"405 only\",\"488 only\",\"561 only\","
                     "\"488 and 561\",\"637 only\"],\"LED\":[\"Open\",\"Closed\"]},"
                     "\"other\":[\"" DEV_CORE "\",\"" DEV_SIM "\",\"" DEV_LASERS "\"],"
                     "\"core\":{\"version\":\"" SIM_CORE_VERSION "\",\"device_api\":null,\"hardware_sweep\":%s}}",
                     c->cameras[0].name, c->cameras[1].name, c->cameras[2].name,
                     c->hardware_sweep ? "true" : "false"));
}

int gc_list_properties(gc_core *c, const char *device, char *out, size_t cap) {
  LOCK(c);
  const char *list = NULL;
  switch (device_kind(c, device, NULL)) {
    case D_CAMERA:
      list = "[\"Binning\",\"Exposure\",\"PixelSize_um\",\"PixelType\",\"SensorHeight\",\"SensorWidth\"]";
      break;
    case D_SCANNER: list = "[\"SPIMNumSlices\"]"; break;
    case D_CORE: list = "[\"Camera\",\"Focus\",\"Galvo\",\"XYStage\"]"; break;
    case D_SIM: list = "[\"FrameIntervalMs\",\"NoiseIndex\",\"Seed\"]"; break;
    case D_LASERS:
      list = "[\"PowerSetpoint405\",\"PowerSetpoint488\",\"PowerSetpoint561\",\"PowerSetpoint637\"]";
      break;
    case D_XY:
    case D_Z:
    case D_F:
    case D_PIEZO: list = "[]"; break;
    case D_NONE: RETURN(c, unknown_device(c, device));
  }
  RETURN(c, out_text(c, out, cap, "%s", list));
}

static int no_property(gc_core *c, const char *device, const char *prop) {
  return fail(c, GC_E_ARGUMENT, "device '%s' has no property '%s'", device, prop ? prop : "(null)");
}

int gc_get_property(gc_core *c, const char *device, const char *prop, char *out, size_t cap) {
  LOCK(c);
  int cam = -1;
  dev_kind kind = device_kind(c, device, &cam);
  if (kind == D_NONE) RETURN(c, unknown_device(c, device));
  if (!prop) RETURN(c, no_property(c, device, prop));
  if (kind == D_CAMERA) {
    const sim_camera *k = &c->cameras[cam];
    if (strcmp(prop, "Exposure") == 0) RETURN(c, out_text(c, out, cap, "%.10g", k->exposure_ms));
    if (strcmp(prop, "PixelSize_um") == 0) RETURN(c, out_text(c, out, cap, "%.10g", k->pixel_size_um));
    if (strcmp(prop, "Binning") == 0) RETURN(c, out_text(c, out, cap, "%d", k->binning));
    if (strcmp(prop, "PixelType") == 0) RETURN(c, out_text(c, out, cap, "16bit"));
    if (strcmp(prop, "SensorWidth") == 0) RETURN(c, out_text(c, out, cap, "%d", k->sensor_width));
    if (strcmp(prop, "SensorHeight") == 0) RETURN(c, out_text(c, out, cap, "%d", k->sensor_height));
  } else if (kind == D_SCANNER) {
    if (strcmp(prop, "SPIMNumSlices") == 0) RETURN(c, out_text(c, out, cap, "%d", c->spim_num_slices));
  } else if (kind == D_CORE) {
    if (strcmp(prop, "Camera") == 0) RETURN(c, out_text(c, out, cap, "%s", c->cameras[c->core_camera].name));
    if (strcmp(prop, "XYStage") == 0) RETURN(c, out_text(c, out, cap, DEV_XY));
    if (strcmp(prop, "Focus") == 0) RETURN(c, out_text(c, out, cap, DEV_Z));
    if (strcmp(prop, "Galvo") == 0) RETURN(c, out_text(c, out, cap, DEV_SCANNER));
  } else if (kind == D_SIM) {
    if (strcmp(prop, "Seed") == 0) RETURN(c, out_text(c, out, cap, "%llu", (unsigned long long)c->seed));
    if (strcmp(prop, "NoiseIndex") == 0) RETURN(c, out_text(c, out, cap, "%llu", (unsigned long long)c->noise_next));
    if (strcmp(prop, "FrameIntervalMs") == 0) RETURN(c, out_text(c, out, cap, "%.10g", c->frame_interval_ms));
  } else if (kind == D_LASERS) {
    int line = laser_line_of(prop);
    if (line >= 0) RETURN(c, out_text(c, out, cap, "%.10g", c->laser_power_pct[line]));
  }
  RETURN(c, no_property(c, device, prop));
}

static int read_only(gc_core *c, const char *device, const char *prop) {
  return fail(c, GC_E_ARGUMENT, "property '%s' of device '%s' is read-only", prop, device);
}

static int bad_value(gc_core *c, const char *device, const char *prop, const char *value, const char *why) {
  return fail(c, GC_E_RANGE, "device '%s' property '%s': bad value '%s' (%s)", device, prop, value, why);
}

static int parse_u64(const char *s, uint64_t *v) {
  if (!s || !*s || *s == '-') return 0;
  char *end = NULL;
  errno = 0;
  unsigned long long x = strtoull(s, &end, 10);
  if (errno || !end || *end) return 0;
  *v = x;
  return 1;
}

int gc_set_property(gc_core *c, const char *device, const char *prop, const char *value) {
  LOCK(c);
  int cam = -1;
  dev_kind kind = device_kind(c, device, &cam);
  if (kind == D_NONE) RETURN(c, unknown_device(c, device));
  if (!prop) RETURN(c, no_property(c, device, prop));
  if (!value) RETURN(c, fail(c, GC_E_ARGUMENT, "value for '%s' of '%s' is NULL", prop, device));
  double v;
  if (kind == D_CAMERA) {
    sim_camera *k = &c->cameras[cam];
    if (strcmp(prop, "Exposure") == 0 || strcmp(prop, "Binning") == 0) {
      if (camera_in_sequence(c, cam))
        RETURN(c, fail(c, GC_E_BUSY, "camera '%s' is in a running sequence", device));
      if (!parse_double(value, &v)) RETURN(c, bad_value(c, device, prop, value, "not a number"));
      if (prop[0] == 'E') {
        if (v < 0.0 || v > 1e6) RETURN(c, bad_value(c, device, prop, value, "exposure must be in [0, 1e6] ms"));
        k->exposure_ms = v;
      } else {
        if (v != 1.0 && v != 2.0 && v != 4.0) RETURN(c, bad_value(c, device, prop, value, "binning is 1, 2 or 4"));
        int b = (int)v;
        if (k->roi_width < b || k->roi_height < b)
          RETURN(c, bad_value(c, device, prop, value, "ROI smaller than one binned pixel"));
        if (k->roi_x % b || k->roi_y % b || k->roi_width % b || k->roi_height % b)
          RETURN(c, bad_value(c, device, prop, value, "the ROI is not a whole number of binned pixels"));
        k->binning = b;
      }
      RETURN(c, GC_OK);
    }
    if (strcmp(prop, "PixelSize_um") == 0 || strcmp(prop, "PixelType") == 0 || strcmp(prop, "SensorWidth") == 0 ||
        strcmp(prop, "SensorHeight") == 0)
      RETURN(c, read_only(c, device, prop));
  } else if (kind == D_SCANNER) {
    if (strcmp(prop, "SPIMNumSlices") == 0) {
      if (!parse_double(value, &v) || v < 1 || v > 100000 || v != floor(v))
        RETURN(c, bad_value(c, device, prop, value, "an integer in [1, 100000]"));
      c->spim_num_slices = (int)v;
      RETURN(c, GC_OK);
    }
  } else if (kind == D_CORE) {
    if (strcmp(prop, "Camera") == 0) {
      int ci = camera_index(c, value);
      if (ci < 0) RETURN(c, bad_value(c, device, prop, value, "not a camera"));
      c->core_camera = ci;
      RETURN(c, GC_OK);
    }
    if (strcmp(prop, "XYStage") == 0 || strcmp(prop, "Focus") == 0 || strcmp(prop, "Galvo") == 0)
      RETURN(c, read_only(c, device, prop));
  } else if (kind == D_SIM) {
    uint64_t u;
    if (strcmp(prop, "Seed") == 0) {
      if (c->seq_running) RETURN(c, fail(c, GC_E_BUSY, "cannot change the sample during a sequence"));
      if (!parse_u64(value, &u)) RETURN(c, bad_value(c, device, prop, value, "a non-negative integer"));
      pthread_rwlock_wrlock(&c->sample_lock);
      c->seed = u;
      sim_generate_sample(c);
      pthread_rwlock_unlock(&c->sample_lock);
      RETURN(c, GC_OK);
    }
    if (strcmp(prop, "NoiseIndex") == 0) {
      if (c->seq_running) RETURN(c, fail(c, GC_E_BUSY, "cannot change the noise index during a sequence"));
      if (!parse_u64(value, &u)) RETURN(c, bad_value(c, device, prop, value, "a non-negative integer"));
      c->noise_next = u;
      RETURN(c, GC_OK);
    }
    if (strcmp(prop, "FrameIntervalMs") == 0) {
      if (!parse_double(value, &v) || v < 0 || v > 1e6) RETURN(c, bad_value(c, device, prop, value, "ms in [0, 1e6]"));
      c->frame_interval_ms = v;
      RETURN(c, GC_OK);
    }
  } else if (kind == D_LASERS) {
    int line = laser_line_of(prop);
    if (line >= 0) {
      if (!parse_double(value, &v) || v < 0 || v > 100) RETURN(c, bad_value(c, device, prop, value, "percent in [0, 100]"));
      c->laser_power_pct[line] = v;
      RETURN(c, GC_OK);
    }
  }
  RETURN(c, no_property(c, device, prop));
}

/* ---- motion ------------------------------------------------------------------ */

static int check_finite(gc_core *c, const char *device, double a, double b) {
  if (isfinite(a) && isfinite(b)) return GC_OK;
  return fail(c, GC_E_ARGUMENT, "device '%s': position must be finite (got %g, %g)", device, a, b);
}

static int wrong_kind(gc_core *c, const char *device, const char *what) {
  return fail(c, GC_E_ARGUMENT, "device '%s' is not %s", device, what);
}

/* GC_OK when `device` names a device of kind `want`, else the refusal (unknown device or wrong kind). */
static int expect_kind(gc_core *c, const char *device, dev_kind want, const char *what) {
  dev_kind k = device_kind(c, device, NULL);
  if (k == D_NONE) return unknown_device(c, device);
  return k == want ? GC_OK : wrong_kind(c, device, what);
}

/* The two axes of a two-axis device: the XY stage's x and y, or the scanner's a and b. */
static void pair_slots(gc_core *c, dev_kind k, double **first, double **second) {
  *first = k == D_XY ? &c->x_um : &c->galvo_a_deg;
  *second = k == D_XY ? &c->y_um : &c->galvo_b_deg;
}

/* The device is busy for its configured move time from now (called with mu held). */
static void start_move(gc_core *c, dev_kind k) {
  int m = motion_index(k);
  if (m >= 0 && c->move_ms[m] > 0) c->busy_until_ns[m] = mono_ns() + (uint64_t)(c->move_ms[m] * 1e6);
}

static int get_pair(gc_core *c, const char *device, dev_kind kind, const char *what, double *a, double *b) {
  LOCK(c);
  int rc = expect_kind(c, device, kind, what);
  if (rc) RETURN(c, rc);
  if (!a || !b) RETURN(c, fail(c, GC_E_ARGUMENT, "NULL output pointer"));
  double *first, *second;
  pair_slots(c, kind, &first, &second);
  *a = *first;
  *b = *second;
  RETURN(c, GC_OK);
}

/* GC_E_RANGE when `pos` is past the axis's travel, as a stage controller refuses a target it cannot reach. */
static int check_travel(gc_core *c, const char *device, sim_axis axis, const char *name, double pos) {
  if (!c->has_travel[axis] || (pos >= c->travel_min_um[axis] && pos <= c->travel_max_um[axis])) return GC_OK;
  return fail(c, GC_E_RANGE, "device '%s': %s %g um is outside its travel [%g, %g] um", device, name, pos, c->travel_min_um[axis],
              c->travel_max_um[axis]);
}

static int set_pair(gc_core *c, const char *device, dev_kind kind, const char *what, double a, double b) {
  LOCK(c);
  int rc = expect_kind(c, device, kind, what);
  if (!rc) rc = check_finite(c, device, a, b);
  if (!rc && kind == D_XY) rc = check_travel(c, device, SIM_AXIS_X, "x", a);
  if (!rc && kind == D_XY) rc = check_travel(c, device, SIM_AXIS_Y, "y", b);
  if (rc) RETURN(c, rc);
  double *first, *second;
  pair_slots(c, kind, &first, &second);
  double error = kind == D_SCANNER ? c->galvo_settle_error_deg : 0.0;
  *first = a + error;
  *second = b + error;
  start_move(c, kind);
  RETURN(c, GC_OK);
}

int gc_get_xy_um(gc_core *c, const char *xy, double *x, double *y) { return get_pair(c, xy, D_XY, "an XY stage", x, y); }

int gc_set_xy_um(gc_core *c, const char *xy, double x, double y) { return set_pair(c, xy, D_XY, "an XY stage", x, y); }

static double *stage_slot(gc_core *c, dev_kind k) {
  return k == D_Z ? &c->z_um : k == D_F ? &c->f_um : k == D_PIEZO ? &c->piezo_um : NULL;
}

int gc_get_position_um(gc_core *c, const char *stage, double *pos) {
  LOCK(c);
  dev_kind k = device_kind(c, stage, NULL);
  if (k == D_NONE) RETURN(c, unknown_device(c, stage));
  double *slot = stage_slot(c, k);
  if (!slot) RETURN(c, wrong_kind(c, stage, "a single-axis stage"));
  if (!pos) RETURN(c, fail(c, GC_E_ARGUMENT, "NULL output pointer"));
  *pos = *slot;
  RETURN(c, GC_OK);
}

int gc_set_position_um(gc_core *c, const char *stage, double pos) {
  LOCK(c);
  dev_kind k = device_kind(c, stage, NULL);
  if (k == D_NONE) RETURN(c, unknown_device(c, stage));
  double *slot = stage_slot(c, k);
  if (!slot) RETURN(c, wrong_kind(c, stage, "a single-axis stage"));
  int rc = check_finite(c, stage, pos, 0.0);
  if (!rc) {
    sim_axis axis = k == D_Z ? SIM_AXIS_Z : k == D_F ? SIM_AXIS_F : SIM_AXIS_PIEZO;
    rc = check_travel(c, stage, axis, k == D_Z ? "z" : k == D_F ? "f" : "piezo", pos);
  }
  if (rc) RETURN(c, rc);
  /* The piezo controller resolves 1 nm. */
  *slot = k == D_PIEZO ? sim_round_piezo(pos + c->piezo_settle_error_um) : pos;
  start_move(c, k);
  RETURN(c, GC_OK);
}

int gc_get_scanner_deg(gc_core *c, const char *scanner, double *a, double *b) {
  return get_pair(c, scanner, D_SCANNER, "a scanner", a, b);
}

int gc_set_scanner_deg(gc_core *c, const char *scanner, double a, double b) {
  return set_pair(c, scanner, D_SCANNER, "a scanner", a, b);
}

int gc_wait_for_device(gc_core *c, const char *device) {
  LOCK(c);
  dev_kind k = device_kind(c, device, NULL);
  if (k == D_NONE) RETURN(c, unknown_device(c, device));
  int m = motion_index(k);
  uint64_t until = m >= 0 ? c->busy_until_ns[m] : 0;
  /* A move in progress is slept out without `mu`, so other calls go on meanwhile. */
  pthread_mutex_unlock(&c->mu);
  uint64_t now = mono_ns();
  if (until > now) sleep_ns(until - now);
  return GC_OK;
}

/* ---- config groups ------------------------------------------------------------ */

int gc_set_config(gc_core *c, const char *group, const char *preset) {
  LOCK(c);
  if (group && strcmp(group, "Laser") == 0) {
    int i = sim_laser_index(preset);
    if (i < 0) RETURN(c, fail(c, GC_E_ARGUMENT, "preset '%s' not in group 'Laser'", preset ? preset : "(null)"));
    c->laser = i;
    RETURN(c, GC_OK);
  }
  if (group && strcmp(group, "LED") == 0) {
    for (int i = 0; i < 2; i++)
      if (preset && strcmp(preset, led_presets[i]) == 0) {
        c->led_open = i == 0;
        RETURN(c, GC_OK);
      }
    RETURN(c, fail(c, GC_E_ARGUMENT, "preset '%s' not in group 'LED'", preset ? preset : "(null)"));
  }
  RETURN(c, fail(c, GC_E_ARGUMENT, "unknown config group '%s'", group ? group : "(null)"));
}

int gc_get_config(gc_core *c, const char *group, char *out, size_t cap) {
  LOCK(c);
  if (group && strcmp(group, "Laser") == 0) RETURN(c, out_text(c, out, cap, "%s", sim_laser_presets[c->laser]));
  if (group && strcmp(group, "LED") == 0) RETURN(c, out_text(c, out, cap, "%s", led_presets[c->led_open ? 0 : 1]));
  RETURN(c, fail(c, GC_E_ARGUMENT, "unknown config group '%s'", group ? group : "(null)"));
}

/* ---- cameras ------------------------------------------------------------------- */

#define CAMERA_OR_FAIL(c, name, ci)                                           \
  int ci = camera_index((c), (name));                                         \
  if (ci < 0) {                                                               \
    if (device_kind((c), (name), NULL) == D_NONE) RETURN(c, unknown_device((c), (name))); \
    RETURN(c, wrong_kind((c), (name), "a camera"));                           \
  }

int gc_set_exposure_ms(gc_core *c, const char *camera, double exposure_ms) {
  LOCK(c);
  CAMERA_OR_FAIL(c, camera, ci);
  if (camera_in_sequence(c, ci)) RETURN(c, fail(c, GC_E_BUSY, "camera '%s' is in a running sequence", camera));
  if (!(exposure_ms >= 0.0 && exposure_ms <= 1e6))
    RETURN(c, fail(c, GC_E_RANGE, "camera '%s': exposure %g ms not in [0, 1e6]", camera, exposure_ms));
  c->cameras[ci].exposure_ms = exposure_ms;
  RETURN(c, GC_OK);
}

int gc_get_exposure_ms(gc_core *c, const char *camera, double *exposure_ms) {
  LOCK(c);
  CAMERA_OR_FAIL(c, camera, ci);
  if (!exposure_ms) RETURN(c, fail(c, GC_E_ARGUMENT, "NULL output pointer"));
  *exposure_ms = c->cameras[ci].exposure_ms;
  RETURN(c, GC_OK);
}

int gc_set_roi(gc_core *c, const char *camera, int x, int y, int width, int height) {
  LOCK(c);
  CAMERA_OR_FAIL(c, camera, ci);
  if (camera_in_sequence(c, ci)) RETURN(c, fail(c, GC_E_BUSY, "camera '%s' is in a running sequence", camera));
  sim_camera *k = &c->cameras[ci];
  if (x < 0 || y < 0 || width < k->binning || height < k->binning || x > k->sensor_width - width ||
      y > k->sensor_height - height)
    RETURN(c, fail(c, GC_E_ARGUMENT, "camera '%s': ROI x=%d y=%d w=%d h=%d outside the %dx%d sensor", camera, x, y,
                   width, height, k->sensor_width, k->sensor_height));
  const int b = k->binning;
  if (x % b || y % b || width % b || height % b)
    RETURN(c, fail(c, GC_E_ARGUMENT, "camera '%s': ROI x=%d y=%d w=%d h=%d is not a whole number of %dx%d binned pixels",
                   camera, x, y, width, height, b, b));
  k->roi_x = x;
  k->roi_y = y;
  k->roi_width = width;
  k->roi_height = height;
  RETURN(c, GC_OK);
}

int gc_get_roi(gc_core *c, const char *camera, int *x, int *y, int *width, int *height) {
  LOCK(c);
  CAMERA_OR_FAIL(c, camera, ci);
  if (!x || !y || !width || !height) RETURN(c, fail(c, GC_E_ARGUMENT, "NULL output pointer"));
  const sim_camera *k = &c->cameras[ci];
  *x = k->roi_x;
  *y = k->roi_y;
  *width = k->roi_width;
  *height = k->roi_height;
  RETURN(c, GC_OK);
}

int gc_frame_bytes(gc_core *c, const char *camera, size_t *bytes) {
  LOCK(c);
  CAMERA_OR_FAIL(c, camera, ci);
  if (!bytes) RETURN(c, fail(c, GC_E_ARGUMENT, "NULL output pointer"));
  gcsim_state st;
  state_for(c, ci, &st);
  *bytes = state_frame_bytes(&st);
  RETURN(c, GC_OK);
}

static int check_buffer(gc_core *c, const char *camera, const gcsim_state *st, void *buf, size_t cap) {
  size_t need = state_frame_bytes(st);
  if (!buf) return fail(c, GC_E_ARGUMENT, "frame buffer is NULL");
  if (cap < need) return fail(c, GC_E_BUFFER, "camera '%s': frame needs %zu bytes, buffer has %zu", camera, need, cap);
  return GC_OK;
}

/* Called with mu held; renders with only the sample lock held and returns
 * with mu released. */
static int render_unlocked(gc_core *c, int cam, const gcsim_state *st, uint64_t noise, void *buf) {
  gcsim_state copy = *st;
  pthread_rwlock_rdlock(&c->sample_lock);
  pthread_mutex_unlock(&c->mu);
  int rc = sim_render(c, cam, &copy, noise, buf);
  pthread_rwlock_unlock(&c->sample_lock);
  if (rc) {
    pthread_mutex_lock(&c->mu);
    RETURN(c, fail(c, rc, "camera '%s': out of memory rendering", c->cameras[cam].name));
  }
  return GC_OK;
}

int gc_snap(gc_core *c, const char *camera, void *buf, size_t cap, gc_frame_meta *meta) {
  LOCK(c);
  CAMERA_OR_FAIL(c, camera, ci);
  if (c->seq_running) RETURN(c, fail(c, GC_E_BUSY, "cannot snap '%s' while a sequence is running", camera));
  gcsim_state st;
  state_for(c, ci, &st);
  int rc = check_buffer(c, camera, &st, buf, cap);
  if (rc) RETURN(c, rc);
  uint64_t noise = c->noise_next++;
  /* The frame is read out exposure + readout after the call, rendered or not. */
  uint64_t due = mono_ns() + (uint64_t)(sim_first_frame_ms(&st) * 1e6);
  rc = render_unlocked(c, ci, &st, noise, buf);
  uint64_t now = mono_ns();
  if (rc == GC_OK && due > now) sleep_ns(due - now);
  if (rc == GC_OK) fill_meta(meta, &st, ci, 0);
  return rc;
}

/* ---- sequences ------------------------------------------------------------------ */

/* When slice i of a sequence is ready, counted from its start: the camera's
 * own timing, or config "frame_interval_ms" per slice when set. */
static uint64_t sequence_frame_due_ns(const gc_core *c, const gcsim_state *st, uint64_t i) {
  if (c->frame_interval_ms > 0.0) return (uint64_t)((double)(i + 1) * c->frame_interval_ms * 1e6);
  return (uint64_t)((sim_first_frame_ms(st) + (double)i * sim_frame_interval_ms(st)) * 1e6);
}

int gc_start_sequence(gc_core *c, const char *cameras, uint32_t count, const gc_sweep *sweep) {
  LOCK(c);
  if (c->seq_running) RETURN(c, fail(c, GC_E_BUSY, "a sequence is already running"));
  if (!cameras || !*cameras) RETURN(c, fail(c, GC_E_ARGUMENT, "no cameras given for the sequence"));
  if (count == 0) RETURN(c, fail(c, GC_E_ARGUMENT, "sequence count must be at least 1"));
  if (sweep && sweep->num_slices == 0) RETURN(c, fail(c, GC_E_ARGUMENT, "sweep has 0 slices"));
  if (sweep && !c->hardware_sweep)
    RETURN(c, fail(c, GC_E_ARGUMENT, "this core has no hardware sequencing of piezo and galvo: step the sweep slice by slice"));
  if (sweep && !(isfinite(sweep->piezo_start_um) && isfinite(sweep->piezo_step_um) &&
                 isfinite(sweep->galvo_start_deg) && isfinite(sweep->galvo_step_deg)))
    RETURN(c, fail(c, GC_E_ARGUMENT, "sweep positions must be finite"));
  int list[SIM_NUM_CAMERAS], n = 0;
  const char *p = cameras;
  while (*p) {
    while (*p == ' ') p++;
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    while (len > 0 && p[len - 1] == ' ') len--;
    char name[64];
    if (len == 0 || len >= sizeof name) RETURN(c, fail(c, GC_E_ARGUMENT, "bad camera list '%s'", cameras));
    memcpy(name, p, len);
    name[len] = '\0';
    int ci = camera_index(c, name);
    if (ci < 0) {
      if (device_kind(c, name, NULL) == D_NONE) RETURN(c, unknown_device(c, name));
      RETURN(c, wrong_kind(c, name, "a camera"));
    }
    for (int i = 0; i < n; i++)
      if (list[i] == ci) RETURN(c, fail(c, GC_E_ARGUMENT, "camera '%s' listed twice", name));
    list[n++] = ci;
    if (!end) break;
    p = end + 1;
  }
  c->seq_num_cameras = n;
  for (int i = 0; i < n; i++) {
    c->seq_cameras[i] = list[i];
    state_for(c, list[i], &c->seq_state[i]);
  }
  c->seq_count = count;
  c->seq_popped = 0;
  c->seq_noise_base = c->noise_next;
  c->noise_next += (uint64_t)count * (uint64_t)n;
  c->seq_has_sweep = sweep != NULL;
  if (sweep) c->seq_sweep = *sweep;
  c->seq_start_ns = mono_ns();
  c->seq_running = 1;
  RETURN(c, GC_OK);
}

int gc_stop_sequence(gc_core *c) {
  LOCK(c);
  c->seq_running = 0;
  RETURN(c, GC_OK);
}

int gc_is_sequence_running(gc_core *c) {
  LOCK(c);
  RETURN(c, c->seq_running ? 1 : 0);
}

int gc_pop_next(gc_core *c, void *buf, size_t cap, gc_frame_meta *meta, uint32_t timeout_ms, uint64_t *dropped) {
  if (dropped) *dropped = 0; /* the sim never loses frames */
  LOCK(c);
  if (!c->seq_running) RETURN(c, fail(c, GC_E_NOT_RUNNING, "no sequence is running"));
  uint64_t k = c->seq_popped, total = (uint64_t)c->seq_count * (uint64_t)c->seq_num_cameras;
  int j = (int)(k % (uint64_t)c->seq_num_cameras);
  uint64_t i = k / (uint64_t)c->seq_num_cameras;
  gcsim_state st = c->seq_state[j];
  int cam = c->seq_cameras[j];
  int rc = check_buffer(c, c->cameras[cam].name, &st, buf, cap);
  if (rc) RETURN(c, rc);
  {
    /* Slice i (all cameras at once) is ready when the camera would deliver it. */
    uint64_t due = c->seq_start_ns + sequence_frame_due_ns(c, &c->seq_state[0], i);
    uint64_t now = mono_ns();
    if (due > now) {
      uint64_t wait = due - now;
      pthread_mutex_unlock(&c->mu);
      if (wait > (uint64_t)timeout_ms * 1000000ULL) {
        sleep_ns((uint64_t)timeout_ms * 1000000ULL);
        pthread_mutex_lock(&c->mu);
        RETURN(c, fail(c, GC_E_TIMEOUT, "no frame within %u ms", timeout_ms));
      }
      sleep_ns(wait);
      pthread_mutex_lock(&c->mu);
      /* Stopped or restarted while we slept: report what is true now. */
      if (!c->seq_running || c->seq_popped != k) RETURN(c, fail(c, GC_E_NOT_RUNNING, "sequence stopped"));
    }
  }
  if (c->seq_has_sweep) {
    uint64_t slice = i % c->seq_sweep.num_slices;
    st.piezo_um = sim_round_piezo(c->seq_sweep.piezo_start_um + (double)slice * c->seq_sweep.piezo_step_um);
    st.galvo_b_deg = c->seq_sweep.galvo_start_deg + (double)slice * c->seq_sweep.galvo_step_deg;
  }
  uint64_t noise = c->seq_noise_base + k;
  c->seq_popped = k + 1;
  if (c->seq_popped >= total) c->seq_running = 0;
  rc = render_unlocked(c, cam, &st, noise, buf);
  if (rc == GC_OK) fill_meta(meta, &st, cam, i);
  return rc;
}

/* ---- sim-only ---------------------------------------------------------------------- */

int gcsim_get_state(gc_core *c, const char *camera, gcsim_state *state) {
  LOCK(c);
  CAMERA_OR_FAIL(c, camera, ci);
  if (!state) RETURN(c, fail(c, GC_E_ARGUMENT, "NULL state"));
  state_for(c, ci, state);
  RETURN(c, GC_OK);
}

int gcsim_render(gc_core *c, const char *camera, const gcsim_state *state, uint64_t noise_index, void *buf,
                 size_t cap) {
  LOCK(c);
  CAMERA_OR_FAIL(c, camera, ci);
  if (!state) RETURN(c, fail(c, GC_E_ARGUMENT, "NULL state"));
  char why[256];
  if (!sim_check_state(c, ci, state, why, sizeof why)) RETURN(c, fail(c, GC_E_ARGUMENT, "%s", why));
  int rc = check_buffer(c, camera, state, buf, cap);
  if (rc) RETURN(c, rc);
  return render_unlocked(c, ci, state, noise_index, buf);
}

int gcsim_truth_json(gc_core *c, char *out, size_t cap) {
  LOCK(c);
  if (!out || cap == 0) RETURN(c, fail(c, GC_E_ARGUMENT, "output buffer is NULL or empty"));
  size_t used = 0;
  int overflow = 0;
#define EMIT(...)                                                            \
  do {                                                                       \
    int n_ = snprintf(out + used, used < cap ? cap - used : 0, __VA_ARGS__); \
    if (n_ < 0 || used + (size_t)n_ >= cap) overflow = 1;                    \
    else used += (size_t)n_;                                                 \
  } while (0)
  EMIT("{\"seed\":%llu,\"galvo_slope_deg_per_um\":%.17g,\"galvo_offset_deg\":%.17g,\"noise_index\":%llu,"
       "\"dark_offset_adu\":%g,\"read_noise_adu\":%g,\"line_time_ms\":%g,\"cameras\":[",
       (unsigned long long)c->seed, GCSIM_GALVO_SLOPE_DEG_PER_UM, GCSIM_GALVO_OFFSET_DEG,
       (unsigned long long)c->noise_next, (double)SIM_DARK_OFFSET_ADU, (double)SIM_READ_NOISE_ADU, SIM_LINE_TIME_MS);
  for (int i = 0; i < SIM_NUM_CAMERAS; i++) {
    const sim_camera *k = &c->cameras[i];
    EMIT("%s{\"name\":\"%s\",\"index\":%d,\"light_sheet\":%s,\"pixel_size_um\":%.17g,\"sensor_width\":%d,"
         "\"sensor_height\":%d}",
         i ? "," : "", k->name, i, k->light_sheet ? "true" : "false", k->pixel_size_um, k->sensor_width,
         k->sensor_height);
  }
  EMIT("],\"embryos\":[");
  for (int i = 0; i < c->num_embryos; i++) {
    const sim_embryo *e = &c->embryos[i];
    EMIT("%s{\"x_um\":%.17g,\"y_um\":%.17g,\"z_um\":%.17g,\"a_um\":%.17g,\"b_um\":%.17g,\"c_um\":%.17g,"
         "\"angle_deg\":%.17g,\"nuclei\":%d}",
         i ? "," : "", e->x_um, e->y_um, e->z_um, e->a_um, e->b_um, e->c_um, e->angle_deg, e->num_nuclei);
  }
  EMIT("]}");
#undef EMIT
  if (overflow) RETURN(c, fail(c, GC_E_BUFFER, "truth JSON does not fit in %zu bytes", cap));
  RETURN(c, GC_OK);
}
