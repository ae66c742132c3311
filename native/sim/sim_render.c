/* The simulated sample (embryo ellipsoids with nuclei) and the frame renderer.
 * The model is documented in gently_sim.h; the renderer evaluates sample math
 * only inside per-row spans of each visible ellipse/nucleus and spends the
 * rest of its time in one vectorisable noise loop per row. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_internal.h"

const char *const sim_laser_presets[] = {"ALL OFF",     "ALL ON",      "405 only", "488 only",
                                         "561 only",    "488 and 561", "637 only"};
const int sim_num_laser_presets = 7;
/* Relative fluorescence excited by each preset (488 = 1). */
static const double laser_gain[] = {0.0, 2.2, 0.3, 1.0, 0.7, 1.7, 0.2};

int sim_laser_index(const char *preset) {
  for (int i = 0; i < sim_num_laser_presets; i++)
    if (preset && strcmp(preset, sim_laser_presets[i]) == 0) return i;
  return -1;
}

double sim_round_piezo(double um) { return round(um * 1000.0) / 1000.0; }

/* ---- camera timing ----------------------------------------------------------- */

double sim_readout_ms(const gcsim_state *st) { return st->roi_height * SIM_LINE_TIME_MS; }

double sim_first_frame_ms(const gcsim_state *st) { return st->exposure_ms + sim_readout_ms(st); }

/* In a sequence the next exposure overlaps the readout of the previous frame. */
double sim_frame_interval_ms(const gcsim_state *st) { return fmax(st->exposure_ms, sim_readout_ms(st)); }

/* ---- sample --------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

static double uniform(uint64_t *s, double lo, double hi) {
  return lo + (hi - lo) * (double)(splitmix64(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* Stage limits the sample must lie in (the hardware service's XY limits). */
#define SAMPLE_X_MIN_UM 600.0
#define SAMPLE_X_MAX_UM 2400.0
#define SAMPLE_Y_MIN_UM (-900.0)
#define SAMPLE_Y_MAX_UM 900.0
#define EMBRYO_MIN_SPACING_UM 90.0
/* Piezo coordinate of the embryos' centres: the default sweep's centre. */
#define SIM_SAMPLE_DEPTH_UM 50.0

static void make_nuclei(sim_embryo *e, uint64_t *rng) {
  e->num_nuclei = 8 + (int)(splitmix64(rng) % 25); /* 8..32 cells */
  double th = e->angle_deg * M_PI / 180.0, c = cos(th), s = sin(th);
  for (int k = 0; k < e->num_nuclei; k++) {
    double r = uniform(rng, 2.5, 4.0);
    double u, v, w;
    do { /* uniform in the unit ball */
      u = uniform(rng, -1, 1);
      v = uniform(rng, -1, 1);
      w = uniform(rng, -1, 1);
    } while (u * u + v * v + w * w > 1.0);
    /* Keep each nucleus inside the shell (axes shrunk by its radius). */
    double lu = u * fmax(e->a_um - r - 1.0, 0.0), lv = v * fmax(e->b_um - r - 1.0, 0.0),
           lw = w * fmax(e->c_um - r - 1.0, 0.0);
    sim_nucleus *n = &e->nuclei[k];
    n->x_um = e->x_um + lu * c - lv * s;
    n->y_um = e->y_um + lu * s + lv * c;
    n->z_um = e->z_um + lw;
    n->r_um = r;
  }
}

void sim_generate_sample(gc_core *core) {
  uint64_t rng = core->seed ^ 0x656D6272796F73ULL; /* "embryos" */
  for (int i = 0; i < core->num_embryos; i++) {
    const sim_embryo_spec *sp = i < core->num_specs ? &core->specs[i] : NULL;
    sim_embryo *e = &core->embryos[i];
    /* Draw every field even when pinned, so pinning one embryo's position
     * does not reshuffle the others. */
    double x = 0, y = 0;
    for (int attempt = 0; attempt < 1000; attempt++) {
      if (i == 0) {
        /* Embryo 0 lies in the middle of the light-sheet cameras' field of
         * view (where a focus sweep scores it) and the bottom camera's at the
         * start position: something to find and focus on at once. */
        x = core->start_x_um + uniform(&rng, -15.0, 15.0);
        y = core->start_y_um + uniform(&rng, -10.0, 10.0);
      } else {
        x = uniform(&rng, SAMPLE_X_MIN_UM, SAMPLE_X_MAX_UM);
        y = uniform(&rng, SAMPLE_Y_MIN_UM, SAMPLE_Y_MAX_UM);
      }
      int ok = 1;
      for (int j = 0; j < i && ok; j++)
        ok = hypot(x - core->embryos[j].x_um, y - core->embryos[j].y_um) >= EMBRYO_MIN_SPACING_UM;
      if (ok) break;
    }
    e->x_um = sp && sp->has_x ? sp->x_um : x;
    e->y_um = sp && sp->has_y ? sp->y_um : y;
    /* Depth around the centre of the default piezo sweep (50 ± 25 µm), so a
     * default volume holds the embryo. */
    double z = uniform(&rng, SIM_SAMPLE_DEPTH_UM - 5.0, SIM_SAMPLE_DEPTH_UM + 5.0), a = uniform(&rng, 22.5, 27.5), b = uniform(&rng, 13.5, 16.5),
           c = uniform(&rng, 13.5, 16.5), ang = uniform(&rng, 0.0, 180.0);
    e->z_um = sp && sp->has_z ? sp->z_um : z;
    e->a_um = sp && sp->has_a ? sp->a_um : a;
    e->b_um = sp && sp->has_b ? sp->b_um : b;
    e->c_um = sp && sp->has_c ? sp->c_um : c;
    e->angle_deg = sp && sp->has_angle ? sp->angle_deg : ang;
    make_nuclei(e, &rng);
  }
}

/* ---- rendering ------------------------------------------------------------ */

int sim_check_state(const gc_core *core, int camera, const gcsim_state *st, char *why, size_t cap) {
  const sim_camera *cam = &core->cameras[camera];
  int b = st->binning;
  if (b != 1 && b != 2 && b != 4) return snprintf(why, cap, "%s: binning %d not in {1,2,4}", cam->name, b), 0;
  if (st->roi_x < 0 || st->roi_y < 0 || st->roi_width < b || st->roi_height < b ||
      st->roi_x > cam->sensor_width - st->roi_width || st->roi_y > cam->sensor_height - st->roi_height)
    return snprintf(why, cap, "%s: ROI x=%d y=%d w=%d h=%d outside the %dx%d sensor (binning %d)", cam->name,
                    st->roi_x, st->roi_y, st->roi_width, st->roi_height, cam->sensor_width, cam->sensor_height, b),
           0;
  if (!(st->exposure_ms >= 0.0 && st->exposure_ms <= 1e6))
    return snprintf(why, cap, "%s: exposure %g ms out of range", cam->name, st->exposure_ms), 0;
  char preset[sizeof st->laser_preset + 1];
  memcpy(preset, st->laser_preset, sizeof st->laser_preset);
  preset[sizeof st->laser_preset] = '\0';
  if (sim_laser_index(preset) < 0) return snprintf(why, cap, "preset '%s' not in group 'Laser'", preset), 0;
  double vals[] = {st->x_um, st->y_um, st->z_um, st->f_um, st->piezo_um, st->galvo_a_deg, st->galvo_b_deg};
  for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
    if (!isfinite(vals[i])) return snprintf(why, cap, "%s: non-finite position in state", cam->name), 0;
  return 1;
}

static inline uint32_t lowbias32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

/* Row of expected signal (e-, before offset) -> noisy uint16. Written as one
 * straight loop so the compiler vectorises it (SSE4.1 pmulld/packusdw). */
static void noise_row(const float *restrict sig, uint16_t *restrict out, int n, uint32_t pix0, uint32_t key) {
  const float read_var = SIM_READ_NOISE_ADU * SIM_READ_NOISE_ADU;
  const float inv_sd = 1.0f / 147.80176f; /* sd of a sum of four uniform bytes: sqrt(4*(256^2-1)/12) */
  for (int i = 0; i < n; i++) {
    uint32_t h = lowbias32((pix0 + (uint32_t)i) ^ key);
    int32_t sum = (int32_t)((h & 255u) + ((h >> 8) & 255u) + ((h >> 16) & 255u) + (h >> 24)) - 510;
    float s = sig[i] > 0.0f ? sig[i] : 0.0f;
    float v = SIM_DARK_OFFSET_ADU + s + sqrtf(s + read_var) * ((float)sum * inv_sd);
    v = v < 0.0f ? 0.0f : v;
    v = v > 65535.0f ? 65535.0f : v;
    out[i] = (uint16_t)(int32_t)(v + 0.5f);
  }
}

/* A visible ellipse (embryo section or projection) or disc (nucleus) in the frame. */
typedef struct {
  double cx, cy;        /* centre, stage µm */
  double qa, qb, qc;    /* quadratic form: qa dx^2 + qb dx dy + qc dy^2 <= 1 */
  double half_h;        /* half extent in y */
  double cos_t, sin_t, inv_a2, inv_b2;
  float level;          /* constant added inside (light-sheet cytoplasm) */
  float chord;          /* amplitude of -chord*sqrt(1-q) (bottom camera absorption) */
  float bump;           /* amplitude of bump*(1-q) (nuclei) */
  float granule;        /* amplitude of the cytoplasm's granules (light-sheet, in focus only) */
} shape;

static void make_shape(shape *s, double cx, double cy, double a, double b, double angle_deg) {
  double th = angle_deg * M_PI / 180.0, c = cos(th), sn = sin(th);
  s->cx = cx;
  s->cy = cy;
  s->cos_t = c;
  s->sin_t = sn;
  s->inv_a2 = 1.0 / (a * a);
  s->inv_b2 = 1.0 / (b * b);
  /* u = dx c + dy s, v = -dx s + dy c; q = u^2/a^2 + v^2/b^2 */
  s->qa = c * c * s->inv_a2 + sn * sn * s->inv_b2;
  s->qb = 2.0 * c * sn * (s->inv_a2 - s->inv_b2);
  s->qc = sn * sn * s->inv_a2 + c * c * s->inv_b2;
  s->half_h = sqrt(a * a * sn * sn + b * b * c * c);
  s->level = s->chord = s->bump = s->granule = 0.0f;
}

/* Adds one shape's contribution to a row at stage y; pixel i is at x0 + i*px. */
static void shape_row(const shape *s, float *row, int w, double y, double x0, double px) {
  double dy = y - s->cy;
  if (fabs(dy) > s->half_h) return;
  /* qa dx^2 + qb dy dx + (qc dy^2 - 1) <= 0 */
  double B = s->qb * dy, C = s->qc * dy * dy - 1.0, disc = B * B - 4.0 * s->qa * C;
  if (disc <= 0.0) return;
  double r = sqrt(disc), dx_lo = (-B - r) / (2.0 * s->qa), dx_hi = (-B + r) / (2.0 * s->qa);
  double i_lo = ceil((s->cx + dx_lo - x0) / px), i_hi = floor((s->cx + dx_hi - x0) / px);
  if (i_lo < 0) i_lo = 0;
  if (i_hi > w - 1) i_hi = w - 1;
  if (i_lo > i_hi) return;
  int lo = (int)i_lo, hi = (int)i_hi;
  if (s->level != 0.0f)
    for (int i = lo; i <= hi; i++) row[i] += s->level;
  if (s->granule != 0.0f) {
    /* Yolk granules: two crossed gratings of ~1.5 and ~2.2 µm fixed to the
     * sample, the fine structure a focus sweep scores (it fades with defocus). */
    const double ky = 2.0 * M_PI * y;
    for (int i = lo; i <= hi; i++) {
      double x = 2.0 * M_PI * (x0 + i * px);
      row[i] += s->granule * 0.5f * (float)(sin(x / 1.5 + ky / 1.9) + sin(x / 2.2 - ky / 1.3));
    }
  }
  if (s->chord != 0.0f || s->bump != 0.0f) {
    /* q along the row is a quadratic in dx: evaluate it directly. */
    double qy = s->qc * dy * dy, qxy = s->qb * dy;
    for (int i = lo; i <= hi; i++) {
      double dx = x0 + i * px - s->cx;
      double q = s->qa * dx * dx + qxy * dx + qy;
      double in = q < 1.0 ? 1.0 - q : 0.0;
      row[i] += (float)(s->bump * in - s->chord * sqrt(in));
    }
  }
}

int sim_render(const gc_core *core, int camera, const gcsim_state *st, uint64_t noise_index, uint16_t *out) {
  const sim_camera *cam = &core->cameras[camera];
  const int b = st->binning, w = st->roi_width / b, h = st->roi_height / b;
  const double px = cam->pixel_size_um * b;
  const double exposure = st->exposure_ms * b * b; /* signal ~ exposure and binned area */
  char preset[sizeof st->laser_preset + 1];
  memcpy(preset, st->laser_preset, sizeof st->laser_preset);
  preset[sizeof st->laser_preset] = '\0';
  const double laser = laser_gain[sim_laser_index(preset)];

  /* Visible shapes of this frame: at most one per embryo and nucleus. */
  shape *shapes = malloc(sizeof(shape) * (size_t)core->num_embryos * (SIM_MAX_NUCLEI + 1) + sizeof(shape));
  float *row = malloc(sizeof(float) * (size_t)w);
  if (!shapes || !row) {
    free(shapes);
    free(row);
    return GC_E_DEVICE;
  }
  int ns = 0;
  float background;
  if (cam->light_sheet) {
    /* Fluorescence from the plane z = piezo; the sheet sits d_um away from it. */
    double z = st->piezo_um;
    double d_um = (st->galvo_b_deg - (GCSIM_GALVO_SLOPE_DEG_PER_UM * z + GCSIM_GALVO_OFFSET_DEG)) /
                  GCSIM_GALVO_SLOPE_DEG_PER_UM;
    double focus = 1.0 / (1.0 + (d_um / 2.0) * (d_um / 2.0));
    double k = 60.0 * laser * exposure * (0.5 + 0.5 * focus); /* e- at texture 1 */
    const double cyto = 0.4, texture_mean = 0.55, nucleus = 0.6, granules = 0.25;
    background = (float)(2.0 * laser * exposure + (st->led_open ? 5.0 * exposure : 0.0));
    for (int e = 0; e < core->num_embryos; e++) {
      const sim_embryo *em = &core->embryos[e];
      double t = (z - em->z_um) / em->c_um, s2 = 1.0 - t * t;
      if (s2 <= 0.0 || k == 0.0) continue;
      double sc = sqrt(s2);
      shape *s = &shapes[ns++];
      make_shape(s, em->x_um, em->y_um, em->a_um * sc, em->b_um * sc, em->angle_deg);
      /* Defocus blends the texture into its mean: contrast ~ focus. */
      s->level = (float)(k * (focus * cyto + (1.0 - focus) * texture_mean));
      s->granule = (float)(k * focus * granules);
      for (int n = 0; n < em->num_nuclei; n++) {
        const sim_nucleus *nu = &em->nuclei[n];
        double dz = z - nu->z_um, rr2 = nu->r_um * nu->r_um - dz * dz;
        if (rr2 <= 0.0) continue;
        shape *d = &shapes[ns++];
        make_shape(d, nu->x_um, nu->y_um, sqrt(rr2), sqrt(rr2), 0.0);
        d->bump = (float)(k * focus * nucleus);
      }
    }
  } else {
    /* Brightfield: only with the LED open; contrast fades with Z defocus. */
    double i0 = st->led_open ? 1500.0 * exposure : 0.0;
    double dz = (st->z_um - 150.0) / 40.0, contrast = 1.0 / (1.0 + dz * dz);
    background = (float)i0;
    for (int e = 0; e < core->num_embryos && i0 > 0.0; e++) {
      const sim_embryo *em = &core->embryos[e];
      shape *s = &shapes[ns++];
      make_shape(s, em->x_um, em->y_um, em->a_um, em->b_um, em->angle_deg);
      s->chord = (float)(i0 * 0.35 * contrast);
      for (int n = 0; n < em->num_nuclei; n++) {
        const sim_nucleus *nu = &em->nuclei[n];
        shape *d = &shapes[ns++];
        make_shape(d, nu->x_um, nu->y_um, nu->r_um, nu->r_um, 0.0);
        d->bump = (float)(i0 * 0.08 * contrast);
      }
    }
  }

  /* Noise key: a 64-bit mix of seed, camera and frame, folded to 32 bits. */
  uint64_t ks = core->seed ^ ((uint64_t)camera << 56) ^ (noise_index * 0xD1B54A32D192ED03ULL);
  uint64_t k64 = splitmix64(&ks);
  uint32_t key = (uint32_t)(k64 ^ (k64 >> 32));
  const uint32_t grid_w = (uint32_t)(cam->sensor_width / b);
  const uint32_t bx0 = (uint32_t)(st->roi_x / b), by0 = (uint32_t)(st->roi_y / b);
  const double x0 = st->x_um + (st->roi_x + 0.5 * b - cam->sensor_width / 2.0) * cam->pixel_size_um;
  const double y0 = st->y_um + (st->roi_y + 0.5 * b - cam->sensor_height / 2.0) * cam->pixel_size_um;
  /* Cull shapes outside the frame once, not per row. */
  const double fx_lo = x0 - px, fx_hi = x0 + w * px, fy_lo = y0 - px, fy_hi = y0 + h * px;
  int nv = 0;
  for (int i = 0; i < ns; i++) {
    const shape *s = &shapes[i];
    double half_w = sqrt(1.0 / (s->qa - s->qb * s->qb / (4.0 * s->qc))); /* x half-extent of the ellipse */
    if (s->cx + half_w < fx_lo || s->cx - half_w > fx_hi || s->cy + s->half_h < fy_lo || s->cy - s->half_h > fy_hi)
      continue;
    shapes[nv++] = *s;
  }

  for (int j = 0; j < h; j++) {
    const double y = y0 + j * px;
    for (int i = 0; i < w; i++) row[i] = background;
    for (int i = 0; i < nv; i++) shape_row(&shapes[i], row, w, y, x0, px);
    noise_row(row, out + (size_t)j * (size_t)w, w, (by0 + (uint32_t)j) * grid_w + bx0, key);
  }
  free(shapes);
  free(row);
  return GC_OK;
}
