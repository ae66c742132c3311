/* Behaviour of the simulated diSPIM core: make -C native test */
#define _GNU_SOURCE
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "gently_sim.h"
#include "sim_json.h"

#ifdef _WIN32
/* Windows' C runtime has no aligned_alloc; its aligned blocks need their own free. */
#include <malloc.h>
#define aligned_alloc(align, size) _aligned_malloc((size), (align))
#define aligned_free _aligned_free
#else
#define aligned_free free
#endif

#define FULL (2048u * 2048u * 2u)
/* Galvo angle that puts the sheet in focus on the plane at piezo p. */
#define IN_FOCUS_DEG(p) (GCSIM_GALVO_SLOPE_DEG_PER_UM * (p) + GCSIM_GALVO_OFFSET_DEG)
static uint16_t *buf, *buf2;

static uint64_t mono_ns_test(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static gc_core *open_core(const char *config) {
  char err[256] = "";
  gc_core *c = gc_open(config, err, sizeof err);
  if (!c) {
    fprintf(stderr, "gc_open(%s): %s\n", config ? config : "NULL", err);
    exit(1);
  }
  return c;
}

static char *prop(gc_core *c, const char *dev, const char *name) {
  static char out[256];
  if (gc_get_property(c, dev, name, out, sizeof out) != GC_OK) snprintf(out, sizeof out, "<%s>", gc_last_error(c));
  return out;
}

static double mean(const uint16_t *p, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += p[i];
  return s / (double)n;
}

static double variance(const uint16_t *p, size_t n) {
  double m = mean(p, n), s = 0;
  for (size_t i = 0; i < n; i++) s += (p[i] - m) * (p[i] - m);
  return s / (double)n;
}

static double median(const uint16_t *p, size_t n) {
  static size_t hist[65536];
  memset(hist, 0, sizeof hist);
  for (size_t i = 0; i < n; i++) hist[p[i]]++;
  size_t acc = 0;
  for (int v = 0; v < 65536; v++)
    if ((acc += hist[v]) >= n / 2) return v;
  return 65535;
}

typedef struct {
  double x_um, y_um, z_um;
} embryo_pos;

static embryo_pos first_embryo(gc_core *c) {
  static char truth[16384];
  embryo_pos e = {0, 0, 0};
  CHECK(gcsim_truth_json(c, truth, sizeof truth) == GC_OK, "truth: %s", gc_last_error(c));
  char err[128];
  sj_node *root = sj_parse(truth, err, sizeof err);
  CHECK(root, "truth is JSON: %s", err);
  const sj_node *emb = sj_get(root, "embryos");
  if (emb && emb->child) {
    e.x_um = sj_get(emb->child, "x_um")->number;
    e.y_um = sj_get(emb->child, "y_um")->number;
    e.z_um = sj_get(emb->child, "z_um")->number;
  }
  sj_free(root);
  return e;
}

static void test_defaults_and_errors(void) {
  gc_core *c = open_core(NULL);
  char out[1024];
  CHECK(gc_abi_version() == GC_ABI_VERSION, "abi");
  CHECK(gc_list_devices(c, out, sizeof out) == GC_OK && strstr(out, "\"HamCam2\"") && strstr(out, "\"Bottom PCO\"") &&
            strstr(out, "\"488 and 561\""),
        "devices: %s", out);
  double x, y, p, a, b;
  gc_get_xy_um(c, "XYStage:XY:31", &x, &y);
  CHECK(x == 1500 && y == 0, "xy start %g %g", x, y);
  gc_get_position_um(c, "ZStage:Z:32", &p);
  CHECK(p == 150, "z start %g", p);
  gc_get_position_um(c, "ZStage:V:37", &p);
  CHECK(p == 1000, "f start %g", p);
  gc_get_position_um(c, "PiezoStage:P:34", &p);
  CHECK(p == 0, "piezo start %g", p);
  gc_get_scanner_deg(c, "Scanner:AB:33", &a, &b);
  CHECK(a == 0 && b == 0, "scanner start");
  CHECK(gc_get_config(c, "Laser", out, sizeof out) == GC_OK && !strcmp(out, "ALL OFF"), "laser %s", out);
  CHECK(gc_get_config(c, "LED", out, sizeof out) == GC_OK && !strcmp(out, "Closed"), "led %s", out);
  int rx, ry, rw, rh;
  gc_get_roi(c, "HamCam1", &rx, &ry, &rw, &rh);
  CHECK(rx == 0 && ry == 768 && rw == 2048 && rh == 512, "roi %d %d %d %d", rx, ry, rw, rh);
  CHECK(!strcmp(prop(c, "HamCam1", "PixelSize_um"), "0.1625"), "ls px %s", prop(c, "HamCam1", "PixelSize_um"));
  CHECK(!strcmp(prop(c, "Bottom PCO", "PixelSize_um"), "0.65"), "bottom px");
  CHECK(!strcmp(prop(c, "HamCam2", "Exposure"), "10"), "exposure");
  CHECK(!strcmp(prop(c, "Core", "Camera"), "HamCam1"), "core camera");
  CHECK(!strcmp(prop(c, "Sim", "Seed"), "1"), "seed");
  size_t fb;
  CHECK(gc_frame_bytes(c, "HamCam1", &fb) == GC_OK && fb == 2048u * 512u * 2u, "frame bytes %zu", fb);

  CHECK(gc_set_xy_um(c, "Foo", 1, 2) == GC_E_ARGUMENT && !strcmp(gc_last_error(c), "unknown device 'Foo'"), "%s",
        gc_last_error(c));
  CHECK(gc_set_scanner_deg(c, "XYStage:XY:31", 0, 0) == GC_E_ARGUMENT &&
            !strcmp(gc_last_error(c), "device 'XYStage:XY:31' is not a scanner"),
        "%s", gc_last_error(c));
  CHECK(gc_get_xy_um(c, "Scanner:AB:33", &x, &y) == GC_E_ARGUMENT &&
            !strcmp(gc_last_error(c), "device 'Scanner:AB:33' is not an XY stage"),
        "%s", gc_last_error(c));
  CHECK(gc_set_scanner_deg(c, "Scanner:AB:33", NAN, 0) == GC_E_ARGUMENT && strstr(gc_last_error(c), "must be finite"), "%s",
        gc_last_error(c));
  CHECK(gc_get_scanner_deg(c, "Scanner:AB:33", &a, &b) == GC_OK && a == 0 && b == 0, "scanner unchanged: %g %g", a, b);
  CHECK(gc_set_xy_um(c, "XYStage:XY:31", 1500, 20) == GC_OK && gc_get_xy_um(c, "XYStage:XY:31", &x, &y) == GC_OK &&
            x == 1500 && y == 20,
        "xy read back %g %g", x, y);
  CHECK(gc_set_config(c, "Laser", "bogus") == GC_E_ARGUMENT &&
            !strcmp(gc_last_error(c), "preset 'bogus' not in group 'Laser'"),
        "%s", gc_last_error(c));
  CHECK(gc_set_property(c, "HamCam1", "PixelSize_um", "1") == GC_E_ARGUMENT && strstr(gc_last_error(c), "read-only"),
        "%s", gc_last_error(c));
  CHECK(gc_set_roi(c, "HamCam1", 0, 2000, 2048, 512) == GC_E_ARGUMENT && strstr(gc_last_error(c), "HamCam1"), "%s",
        gc_last_error(c));
  /* The ROI is in sensor pixels and a whole number of binned pixels; a frame is ROI / binning. */
  size_t binned_bytes = 0;
  CHECK(gc_set_property(c, "HamCam1", "Binning", "2") == GC_OK && gc_set_roi(c, "HamCam1", 64, 32, 256, 128) == GC_OK &&
            gc_frame_bytes(c, "HamCam1", &binned_bytes) == GC_OK && binned_bytes == 128u * 64u * 2u,
        "frame bytes at binning 2: %zu", binned_bytes);
  CHECK(gc_set_roi(c, "HamCam1", 65, 32, 256, 128) == GC_E_ARGUMENT && strstr(gc_last_error(c), "binned pixels"), "%s",
        gc_last_error(c));
  CHECK(gc_set_property(c, "HamCam1", "Binning", "1") == GC_OK && gc_set_roi(c, "HamCam1", 2, 0, 254, 128) == GC_OK &&
            gc_set_property(c, "HamCam1", "Binning", "4") == GC_E_RANGE && strstr(gc_last_error(c), "binned pixels"),
        "%s", gc_last_error(c));
  CHECK(gc_snap(c, "HamCam1", buf, 100, NULL) == GC_E_BUFFER, "small buffer");
  CHECK(gc_pop_next(c, buf, FULL, NULL, 0, NULL) == GC_E_NOT_RUNNING, "pop without sequence");
  CHECK(gc_set_position_um(c, "PiezoStage:P:34", 12.34567) == GC_OK, "piezo move");
  gc_get_position_um(c, "PiezoStage:P:34", &p);
  CHECK(p == 12.346, "piezo rounded to 1 nm: %.6f", p);
  gc_close(c);
}

static void test_dark_frame_is_offset_plus_read_noise(void) {
  gc_core *c = open_core(NULL);
  gc_frame_meta m;
  CHECK(gc_snap(c, "HamCam1", buf, FULL, &m) == GC_OK, "snap: %s", gc_last_error(c));
  size_t n = (size_t)m.width * m.height;
  CHECK(m.width == 2048 && m.height == 512 && m.bytes_per_pixel == 2 && m.camera_index == 0 && m.seq == 0, "meta");
  double mu = mean(buf, n), sd = sqrt(variance(buf, n));
  CHECK(fabs(mu - 100.0) < 0.05 && fabs(sd - 1.6) < 0.1, "ALL OFF: mean %.3f sd %.3f", mu, sd);
  gc_close(c);
}

static void test_snaps_are_deterministic_and_reproducible(void) {
  gc_core *c1 = open_core(NULL), *c2 = open_core(NULL);
  gc_set_config(c1, "Laser", "488 only");
  gc_set_config(c2, "Laser", "488 only");
  gc_frame_meta m;
  CHECK(!strcmp(prop(c1, "Sim", "NoiseIndex"), "0"), "noise index starts at 0");
  gc_snap(c1, "HamCam1", buf, FULL, &m);
  gc_snap(c2, "HamCam1", buf2, FULL, &m);
  size_t bytes = (size_t)m.width * m.height * 2;
  CHECK(memcmp(buf, buf2, bytes) == 0, "same seed, same first frame");
  CHECK(!strcmp(prop(c1, "Sim", "NoiseIndex"), "1"), "snap consumed noise index 0");
  gc_snap(c1, "HamCam1", buf2, FULL, &m);
  CHECK(memcmp(buf, buf2, bytes) != 0, "next snap has fresh noise");
  gcsim_state st;
  gcsim_get_state(c1, "HamCam1", &st);
  CHECK(gcsim_render(c1, "HamCam1", &st, 1, buf, FULL) == GC_OK, "render: %s", gc_last_error(c1));
  CHECK(memcmp(buf, buf2, bytes) == 0, "gcsim_render reproduces the snap with noise index 1");
  gc_set_property(c2, "Sim", "Seed", "2");
  gc_set_property(c2, "Sim", "NoiseIndex", "1");
  gc_snap(c2, "HamCam1", buf, FULL, &m);
  CHECK(memcmp(buf, buf2, bytes) != 0, "another seed, another frame");
  gc_close(c1);
  gc_close(c2);
}

static void test_roi_frame_is_crop_of_full_frame(void) {
  gc_core *c = open_core(NULL);
  gc_set_config(c, "Laser", "ALL ON");
  gcsim_state st;
  gcsim_get_state(c, "HamCam2", &st);
  st.roi_x = 0, st.roi_y = 0, st.roi_width = 2048, st.roi_height = 2048;
  gcsim_render(c, "HamCam2", &st, 5, buf, FULL);
  st.roi_x = 100, st.roi_y = 900, st.roi_width = 300, st.roi_height = 200;
  gcsim_render(c, "HamCam2", &st, 5, buf2, FULL);
  int same = 1;
  for (int j = 0; j < 200 && same; j++) same = !memcmp(buf2 + j * 300, buf + (900 + j) * 2048 + 100, 600);
  CHECK(same, "ROI frame equals the crop");
  gc_close(c);
}

/* At the embryo centre, the light-sheet image is bright inside the embryo,
 * scales with exposure, and a galvo sweep peaks at the true calibration. */
static void test_light_sheet_signal_and_focus(void) {
  gc_core *c = open_core(NULL);
  embryo_pos e = first_embryo(c);
  CHECK(fabs(e.x_um - 1500) < 130 && fabs(e.y_um) < 10.001, "embryo 0 in view at start: %g %g", e.x_um, e.y_um);
  gc_set_xy_um(c, "XYStage:XY:31", e.x_um, e.y_um);
  gc_set_position_um(c, "PiezoStage:P:34", e.z_um);
  double piezo;
  gc_get_position_um(c, "PiezoStage:P:34", &piezo);
  gc_set_config(c, "Laser", "488 only");
  gcsim_state st;
  gcsim_get_state(c, "HamCam1", &st);
  st.galvo_b_deg = IN_FOCUS_DEG(piezo);
  gcsim_render(c, "HamCam1", &st, 0, buf, FULL);
  /* centre 64x64 of the 2048x512 frame vs. a corner */
  double centre = 0, corner = 0;
  for (int j = 0; j < 64; j++)
    for (int i = 0; i < 64; i++) {
      centre += buf[(224 + j) * 2048 + 992 + i];
      corner += buf[j * 2048 + i];
    }
  centre /= 4096, corner /= 4096;
  CHECK(centre > 200 && corner < 150, "embryo bright (%.1f), background dim (%.1f)", centre, corner);
  st.exposure_ms = 20;
  gcsim_render(c, "HamCam1", &st, 0, buf2, FULL);
  double centre2 = 0;
  for (int j = 0; j < 64; j++)
    for (int i = 0; i < 64; i++) centre2 += buf2[(224 + j) * 2048 + 992 + i];
  centre2 /= 4096;
  CHECK(fabs((centre2 - 100) / (centre - 100) - 2.0) < 0.05, "signal doubles with exposure: %.1f -> %.1f", centre,
        centre2);
  st.exposure_ms = 10;
  /* galvo sweep: the variance of the centre region peaks where the sheet is in focus */
  double best_var = -1, best_galvo = 1e9;
  for (int k = -10; k <= 10; k++) {
    st.galvo_b_deg = IN_FOCUS_DEG(piezo) + k * 0.005;
    gcsim_render(c, "HamCam1", &st, 100 + (uint64_t)(k + 10), buf, FULL);
    double s = 0, s2 = 0;
    for (int j = 0; j < 256; j++)
      for (int i = 0; i < 512; i++) {
        double v = buf[(128 + j) * 2048 + 768 + i];
        s += v, s2 += v * v;
      }
    double n = 256.0 * 512.0, var = s2 / n - (s / n) * (s / n);
    if (var > best_var) best_var = var, best_galvo = st.galvo_b_deg;
  }
  CHECK(fabs(best_galvo - IN_FOCUS_DEG(piezo)) < 1e-9, "focus peak at galvo %.4f (true %.4f)", best_galvo, IN_FOCUS_DEG(piezo));
  /* far above the embryo: nothing but background */
  st.piezo_um = e.z_um + 40;
  st.galvo_b_deg = IN_FOCUS_DEG(st.piezo_um);
  gcsim_render(c, "HamCam1", &st, 0, buf, FULL);
  CHECK(mean(buf, 2048 * 512) < 130, "no embryo section 40 um away: %.1f", mean(buf, 2048 * 512));
  gc_close(c);
}

static void test_bottom_camera_brightfield(void) {
  gc_core *c = open_core(NULL);
  embryo_pos e = first_embryo(c);
  gc_frame_meta m;
  gc_snap(c, "Bottom PCO", buf, FULL, &m);
  CHECK(m.width == 2048 && m.height == 2048 && m.camera_index == 2, "bottom meta");
  CHECK(mean(buf, 2048 * 2048) < 101, "LED closed: dark");
  gc_set_config(c, "LED", "Open");
  gc_snap(c, "Bottom PCO", buf, FULL, &m);
  /* pixel of the embryo centre: stage 1500,0 at the sensor centre, 0.65 um/px */
  int ci = (int)floor(1024 + (e.x_um - 1500) / 0.65), cj = (int)floor(1024 + (e.y_um - 0) / 0.65);
  double inside = 0;
  for (int j = -2; j < 3; j++)
    for (int i = -2; i < 3; i++) inside += buf[(cj + j) * 2048 + ci + i];
  inside /= 25;
  double bg = median(buf, 2048 * 2048); /* embryos cover a small part of the field */
  CHECK(bg > 14000 && bg < 16000, "bright background %.0f", bg);
  CHECK(inside < 0.85 * bg, "embryo darker: %.0f vs %.0f", inside, bg);
  gc_close(c);
}

static void test_dual_camera_sweep_sequence(void) {
  gc_core *c = open_core(NULL);
  gc_set_config(c, "Laser", "488 and 561");
  gc_set_property(c, "Sim", "NoiseIndex", "1000");
  gcsim_state s0, s1;
  gcsim_get_state(c, "HamCam1", &s0);
  gcsim_get_state(c, "HamCam2", &s1);
  gc_sweep sw = {5, -4.0, 2.0005, -0.04, 0.02};
  CHECK(gc_start_sequence(c, "HamCam1,HamCam2", 5, &sw) == GC_OK, "start: %s", gc_last_error(c));
  CHECK(gc_is_sequence_running(c) == 1, "running");
  CHECK(gc_snap(c, "HamCam1", buf, FULL, NULL) == GC_E_BUSY, "snap refused during sequence");
  CHECK(gc_set_exposure_ms(c, "HamCam2", 5) == GC_E_BUSY, "exposure locked during sequence");
  CHECK(!strcmp(prop(c, "Sim", "NoiseIndex"), "1010"), "sequence reserved 10 noise indices");
  for (int k = 0; k < 10; k++) {
    gc_frame_meta m;
    uint64_t dropped = 99;
    int rc = gc_pop_next(c, buf, FULL, &m, 1000, &dropped);
    CHECK(rc == GC_OK && dropped == 0, "pop %d: %d %s", k, rc, gc_last_error(c));
    CHECK(m.camera_index == k % 2 && m.seq == (uint64_t)(k / 2), "order k=%d cam=%d seq=%llu", k, m.camera_index,
          (unsigned long long)m.seq);
    double want_piezo = round((-4.0 + (k / 2) * 2.0005) * 1000) / 1000;
    CHECK(m.piezo_um == want_piezo && fabs(m.galvo_deg - (-0.04 + (k / 2) * 0.02)) < 1e-12, "k=%d piezo %.4f galvo %.4f",
          k, m.piezo_um, m.galvo_deg);
    gcsim_state st = m.camera_index == 0 ? s0 : s1;
    st.piezo_um = m.piezo_um;
    st.galvo_b_deg = m.galvo_deg;
    gcsim_render(c, m.camera_index == 0 ? "HamCam1" : "HamCam2", &st, 1000 + m.seq * 2 + (uint64_t)m.camera_index,
                 buf2, FULL);
    CHECK(memcmp(buf, buf2, (size_t)m.width * m.height * 2) == 0, "frame k=%d reproduced from meta", k);
  }
  CHECK(gc_is_sequence_running(c) == 0, "finished after count frames");
  CHECK(gc_pop_next(c, buf, FULL, NULL, 10, NULL) == GC_E_NOT_RUNNING, "drained");
  double p;
  gc_get_position_um(c, "PiezoStage:P:34", &p);
  CHECK(p == 0, "sweep does not move the idle piezo position");
  gc_close(c);
}

static void test_paced_sequence_times_out(void) {
  gc_core *c = open_core(NULL);
  gc_set_property(c, "Sim", "FrameIntervalMs", "50");
  gc_start_sequence(c, "HamCam1", 2, NULL);
  CHECK(gc_pop_next(c, buf, FULL, NULL, 5, NULL) == GC_E_TIMEOUT, "frame not due yet");
  CHECK(gc_pop_next(c, buf, FULL, NULL, 1000, NULL) == GC_OK, "frame after its interval: %s", gc_last_error(c));
  CHECK(gc_stop_sequence(c) == GC_OK && gc_pop_next(c, buf, FULL, NULL, 1000, NULL) == GC_E_NOT_RUNNING, "stopped");
  gc_close(c);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Frames take the time of a real sCMOS: a snap exposure + readout, a sequence
 * max(exposure, readout) per slice (2048x512 at 10 ms: 100 frames/s). */
static void test_camera_timing(void) {
  gc_core *c = open_core(NULL);
  gc_set_exposure_ms(c, "HamCam1", 10);
  double t0 = now_s();
  CHECK(gc_snap(c, "HamCam1", buf, FULL, NULL) == GC_OK, "snap");
  double snap_s = now_s() - t0;
  CHECK(snap_s >= 0.0124 && snap_s < 0.2, "snap takes exposure + readout (12.5 ms): %.1f ms", snap_s * 1e3);
  t0 = now_s();
  gc_start_sequence(c, "HamCam1", 100, NULL);
  int ok = 1;
  for (int i = 0; i < 100; i++) ok &= gc_pop_next(c, buf, FULL, NULL, 1000, NULL) == GC_OK;
  double seq_s = now_s() - t0;
  CHECK(ok, "100 frames popped");
  CHECK(seq_s >= 1.0 && seq_s < 1.5, "100 slices at 10 ms take ~1 s: %.3f s", seq_s);
  /* short exposure: the readout of the 512-row ROI (2.5 ms) sets the pace */
  gc_set_exposure_ms(c, "HamCam1", 0.5);
  t0 = now_s();
  gc_start_sequence(c, "HamCam1", 40, NULL);
  for (int i = 0; i < 40; i++) ok &= gc_pop_next(c, buf, FULL, NULL, 1000, NULL) == GC_OK;
  seq_s = now_s() - t0;
  CHECK(ok && seq_s >= 40 * 0.00249, "readout-limited: %.1f ms for 40 frames", seq_s * 1e3);
  gc_close(c);
}

/* The default sweep (piezo 50 +- 25 um, galvo 0 +- 0.5 deg) cuts through
 * embryo 0 in focus at its centre slice. */
static void test_embryo_inside_default_sweep(void) {
  gc_core *c = open_core(NULL);
  embryo_pos e = first_embryo(c);
  CHECK(e.z_um >= 45 && e.z_um <= 55, "embryo depth %.1f um inside 25..75", e.z_um);
  CHECK(fabs(IN_FOCUS_DEG(50.0)) < 1e-12 && fabs(IN_FOCUS_DEG(75.0) - 0.5) < 1e-12, "default sweep in focus");
  gc_set_position_um(c, "PiezoStage:P:34", 50);
  gc_set_config(c, "Laser", "488 and 561");
  gcsim_state st;
  gcsim_get_state(c, "HamCam1", &st);
  st.exposure_ms = 5;
  gcsim_render(c, "HamCam1", &st, 0, buf, FULL);
  uint16_t mx = 0;
  for (size_t i = 0; i < 2048u * 512u; i++) mx = buf[i] > mx ? buf[i] : mx;
  CHECK(mx > 300 && median(buf, 2048 * 512) < 130, "embryo well above background: max %u, median %.0f", mx,
        median(buf, 2048 * 512));
  gc_close(c);
}

static void test_config_file(void) {
  char path[64];
  snprintf(path, sizeof path, "/tmp/gently-sim-test-%d.json", (int)getpid());
  FILE *f = fopen(path, "w");
  fprintf(f, "{\"seed\": 7, \"embryos\": [{\"x_um\": 1000, \"y_um\": -500, \"z_um\": 3}],"
             " \"cameras\": {\"HamCam1\": {\"sensor_width\": 256, \"sensor_height\": 128}},"
             " \"start\": {\"x_um\": 1000, \"y_um\": -500, \"piezo_um\": 3}}");
  fclose(f);
  gc_core *c = open_core(path);
  embryo_pos e = first_embryo(c);
  CHECK(e.x_um == 1000 && e.y_um == -500 && e.z_um == 3, "pinned embryo");
  CHECK(!strcmp(prop(c, "Sim", "Seed"), "7"), "seed from config");
  size_t fb;
  gc_frame_bytes(c, "HamCam1", &fb);
  CHECK(fb == 256u * 128u * 2u, "small sensor: %zu", fb);
  gc_close(c);
  f = fopen(path, "w");
  fprintf(f, "{\"sede\": 7}");
  fclose(f);
  char err[256] = "";
  CHECK(!gc_open(path, err, sizeof err) && strstr(err, "'sede'"), "typo named: %s", err);
  unlink(path);
  CHECK(!gc_open("/nonexistent.json", err, sizeof err) && strstr(err, "/nonexistent.json"), "%s", err);
}

/* A core without hardware sequencing and with slow moves: sweeps are refused, a
 * move's wait takes its time without blocking other calls, laser powers round-trip. */
static void test_stepped_core_and_slow_moves(void) {
  char path[64];
  snprintf(path, sizeof path, "/tmp/gently-sim-step-%d.json", (int)getpid());
  FILE *f = fopen(path, "w");
  fprintf(f, "{\"hardware_sweep\": false, \"move_ms\": {\"xy\": 300, \"piezo\": 0}}");
  fclose(f);
  gc_core *c = open_core(path);
  unlink(path);
  char devices[2048];
  CHECK(gc_list_devices(c, devices, sizeof devices) == GC_OK && strstr(devices, "\"hardware_sweep\":false"), "%s", devices);
  gc_sweep sweep = {4, -2, 1, -0.02, 0.01};
  CHECK(gc_start_sequence(c, "HamCam1", 4, &sweep) == GC_E_ARGUMENT && strstr(gc_last_error(c), "no hardware sequencing"),
        "sweep refused: %s", gc_last_error(c));
  CHECK(gc_start_sequence(c, "HamCam1,HamCam2", 1, NULL) == GC_OK, "a sweep-less sequence still runs");
  gc_stop_sequence(c);
  uint64_t t0 = mono_ns_test();
  CHECK(gc_set_xy_um(c, "XYStage:XY:31", 1600, 10) == GC_OK, "move");
  double x, y;
  CHECK(gc_get_xy_um(c, "XYStage:XY:31", &x, &y) == GC_OK && x == 1600, "position answers at once during the move");
  CHECK(mono_ns_test() - t0 < 100000000ull, "set returns before the move ends");
  CHECK(gc_wait_for_device(c, "XYStage:XY:31") == GC_OK, "wait");
  CHECK(mono_ns_test() - t0 >= 290000000ull, "wait lasted the move time: %llu ns", (unsigned long long)(mono_ns_test() - t0));
  CHECK(gc_set_property(c, "LaserCombiner", "PowerSetpoint488", "5.5") == GC_OK, "set power");
  CHECK(!strcmp(prop(c, "LaserCombiner", "PowerSetpoint488"), "5.5"), "power read back: %s", prop(c, "LaserCombiner", "PowerSetpoint488"));
  CHECK(gc_set_property(c, "LaserCombiner", "PowerSetpoint488", "101") == GC_E_RANGE, "power above 100 %% refused");
  gc_close(c);
  f = fopen(path, "w");
  fprintf(f, "{\"move_ms\": {\"xyz\": 3}}");
  fclose(f);
  char err[256] = "";
  CHECK(!gc_open(path, err, sizeof err) && strstr(err, "move_ms.xyz"), "unknown motion device named: %s", err);
  unlink(path);
}

typedef struct {
  gc_core *c;
  int ok;
} failer_arg;

/* Fails 2000 times with its own device name and checks each message is its own. */
static void *failer(void *p) {
  failer_arg *a = p;
  char name[32];
  snprintf(name, sizeof name, "NoSuch%p", (void *)&name);
  a->ok = 1;
  for (int i = 0; i < 2000; i++) {
    double v;
    a->ok &= gc_get_position_um(a->c, name, &v) == GC_E_ARGUMENT && strstr(gc_last_error(a->c), name) != NULL;
  }
  return NULL;
}

/* gc_last_error is the calling thread's: threads failing at once each read their own message. */
static void test_errors_per_thread(void) {
  gc_core *c = open_core(NULL);
  failer_arg a = {c, 0}, b = {c, 0};
  pthread_t ta, tb;
  pthread_create(&ta, NULL, failer, &a);
  pthread_create(&tb, NULL, failer, &b);
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  CHECK(a.ok && b.ok, "each thread reads its own failure");
  double v;
  gc_get_position_um(c, "OnlyOnMain", &v);
  CHECK(strstr(gc_last_error(c), "OnlyOnMain") != NULL, "main's own: %s", gc_last_error(c));
  gc_close(c);
}

typedef struct {
  gc_core *c;
  int ok;
} popper_arg;

static void *popper(void *p) {
  popper_arg *a = p;
  uint16_t *b = malloc(2048 * 512 * 2);
  a->ok = 1;
  for (int i = 0; i < 20; i++) a->ok &= gc_pop_next(a->c, b, 2048 * 512 * 2, NULL, 1000, NULL) == GC_OK;
  free(b);
  return NULL;
}

static void test_pop_on_worker_while_main_queries(void) {
  gc_core *c = open_core(NULL);
  gc_start_sequence(c, "HamCam1", 20, NULL);
  popper_arg a = {c, 0};
  pthread_t t;
  pthread_create(&t, NULL, popper, &a);
  int ok = 1;
  for (int i = 0; i < 2000; i++) {
    double x, y;
    ok &= gc_get_xy_um(c, "XYStage:XY:31", &x, &y) == GC_OK && x == 1500;
    ok &= gc_set_xy_um(c, "XYStage:XY:31", 1500, 0) == GC_OK;
  }
  pthread_join(t, NULL);
  CHECK(ok && a.ok, "concurrent calls succeed");
  gc_close(c);
}

int main(void) {
  buf = aligned_alloc(4096, FULL);
  buf2 = aligned_alloc(4096, FULL);
  test_defaults_and_errors();
  test_dark_frame_is_offset_plus_read_noise();
  test_snaps_are_deterministic_and_reproducible();
  test_roi_frame_is_crop_of_full_frame();
  test_light_sheet_signal_and_focus();
  test_bottom_camera_brightfield();
  test_dual_camera_sweep_sequence();
  test_paced_sequence_times_out();
  test_camera_timing();
  test_embryo_inside_default_sweep();
  test_config_file();
  test_pop_on_worker_while_main_queries();
  test_stepped_core_and_slow_moves();
  test_errors_per_thread();
  aligned_free(buf);
  aligned_free(buf2);
  return check_report("test_sim");
}
