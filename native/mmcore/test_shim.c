/*
 * test_shim.c — checks libgently_mmcore.so against a real CMMCore with the
 * DemoCamera adapter. Not part of the default build: `make -C native/mmcore
 * test MMCORE_DIR=... MM_TEST_CFG=demo.cfg` (see README.md for the config).
 *
 * Expects DemoCamera devices labelled DCam, DXYStage, DStage, DGalvo and a
 * config group "Laser" with a preset "561 only", and pixel size
 * configurations giving DCam 0.65 um and DCam2 0.1625 um (keyed on
 * Core,Camera); a second camera DCam2 (and a Utilities "Multi Camera" over
 * DCam+DCam2) enables the dual-camera check.
 */
#define _POSIX_C_SOURCE 200809L
#include "gently_core.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int failures = 0;
#define CHECK(cond, ...)                                                                           \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      failures++;                                                                                  \
      printf("FAIL %s:%d: %s -- ", __FILE__, __LINE__, #cond);                                     \
      printf(__VA_ARGS__);                                                                         \
      printf("\n");                                                                                \
    }                                                                                              \
  } while (0)
#define OK(call)                                                                                   \
  do {                                                                                             \
    int rc_ = (call);                                                                              \
    CHECK(rc_ == GC_OK, "%s -> %d (%s)", #call, rc_, gc_last_error(core));                         \
  } while (0)

static gc_core *core;
static unsigned char *buf;
static size_t buf_cap;

static uint64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Pops until the sequence is drained; returns the number of frames. */
static int drain(int *per_camera, uint64_t *dropped_total, uint64_t *last_seq, double *piezo) {
  int n = 0;
  for (;;) {
    gc_frame_meta m;
    uint64_t dropped = 0;
    int rc = gc_pop_next(core, buf, buf_cap, &m, 5000, &dropped);
    *dropped_total += dropped;
    if (rc == GC_E_NOT_RUNNING) return n;
    if (rc != GC_OK) {
      CHECK(0, "pop -> %d (%s)", rc, gc_last_error(core));
      return n;
    }
    if (per_camera && m.camera_index >= 0 && m.camera_index < 8) per_camera[m.camera_index]++;
    if (last_seq) last_seq[n < 64 ? n : 63] = m.seq;
    if (piezo) piezo[n < 64 ? n : 63] = m.piezo_um;
    CHECK(m.width > 0 && m.height > 0 && m.bytes_per_pixel > 0, "frame geometry");
    CHECK(m.timestamp_us > now_us() - 60000000u && m.timestamp_us < now_us() + 1000000u,
          "timestamp %llu vs now %llu", (unsigned long long)m.timestamp_us,
          (unsigned long long)now_us());
    n++;
  }
}

struct popper {
  int frames;
  int rc;
};

static void *pop_thread(void *arg) {
  struct popper *p = arg;
  unsigned char *b = malloc(buf_cap);
  for (;;) {
    gc_frame_meta m;
    int rc = gc_pop_next(core, b, buf_cap, &m, 5000, NULL);
    if (rc == GC_OK) {
      p->frames++;
      continue;
    }
    p->rc = rc;
    break;
  }
  free(b);
  return NULL;
}

/* Fails once on its own thread (for the per-thread error check). */
static void *fail_elsewhere(void *arg) {
  double x, y;
  gc_get_xy_um((gc_core *)arg, "OnWorker", &x, &y);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s demo.cfg\n", argv[0]);
    return 2;
  }
  char err[512], text[8192];
  CHECK(gc_abi_version() == GC_ABI_VERSION, "abi");

  /* Opening a missing config fails with a message, no crash. */
  gc_core *bad = gc_open("/nonexistent/x.cfg", err, sizeof err);
  CHECK(bad == NULL && err[0] != '\0', "bad config: %p '%s'", (void *)bad, err);
  printf("bad config message: %s\n", err);

  core = gc_open(argv[1], err, sizeof err);
  if (!core) {
    printf("FAIL gc_open: %s\n", err);
    return 1;
  }

  /* Devices. */
  OK(gc_list_devices(core, text, sizeof text));
  printf("devices: %s\n", text);
  CHECK(strstr(text, "\"cameras\":[\"DCam\"") != NULL, "cameras");
  CHECK(strstr(text, "\"xy_stages\":[\"DXYStage\"]") != NULL, "xy");
  CHECK(strstr(text, "\"DStage\"") && strstr(text, "\"scanners\":[\"DGalvo\"]"), "stage/scanner");
  CHECK(strstr(text, "\"Laser\":[") != NULL, "config groups");
  int dual = strstr(text, "\"DCam2\"") != NULL;
  CHECK(gc_list_devices(core, text, 8) == GC_E_BUFFER, "small list buffer");

  OK(gc_list_properties(core, "DCam", text, sizeof text));
  CHECK(strstr(text, "\"Exposure\"") != NULL, "DCam properties: %s", text);
  /* A value the property does not take is the request's fault: GC_E_RANGE, naming what it takes. */
  CHECK(gc_set_property(core, "DCam", "Binning", "3") == GC_E_RANGE && strstr(gc_last_error(core), "not one it takes"), "%s",
        gc_last_error(core));
  CHECK(gc_set_property(core, "DCam", "Mode", "Sparkles") == GC_E_RANGE, "%s", gc_last_error(core));
  CHECK(gc_set_exposure_ms(core, "DCam", 0) == GC_E_RANGE, "%s", gc_last_error(core));
  OK(gc_set_property(core, "DCam", "Mode", "Noise"));
  OK(gc_get_property(core, "DCam", "Mode", text, sizeof text));
  CHECK(strcmp(text, "Noise") == 0, "Mode=%s", text);
  OK(gc_get_property(core, "DCam", "PixelType", text, sizeof text));
  printf("PixelType: %s\n", text);

  /* PixelSize_um of a camera: from the pixel size configuration with that
   * camera current, per unbinned pixel (the config keys on Core,Camera). */
  OK(gc_list_properties(core, "DCam", text, sizeof text));
  CHECK(strstr(text, "\"PixelSize_um\"") != NULL, "DCam lists PixelSize_um: %s", text);
  OK(gc_get_property(core, "DCam", "PixelSize_um", text, sizeof text));
  CHECK(strcmp(text, "0.65") == 0, "DCam PixelSize_um=%s", text);
  OK(gc_set_property(core, "DCam", "Binning", "2"));
  OK(gc_get_property(core, "DCam", "PixelSize_um", text, sizeof text));
  CHECK(strcmp(text, "0.65") == 0, "DCam PixelSize_um at binning 2=%s", text);
  OK(gc_set_property(core, "DCam", "Binning", "1"));
  if (dual) {
    OK(gc_get_property(core, "DCam2", "PixelSize_um", text, sizeof text));
    CHECK(strcmp(text, "0.1625") == 0, "DCam2 PixelSize_um=%s", text);
    OK(gc_get_property(core, "DCam", "PixelSize_um", text, sizeof text));
    CHECK(strcmp(text, "0.65") == 0, "DCam PixelSize_um after DCam2=%s", text);
  }
  CHECK(gc_set_property(core, "DCam", "PixelSize_um", "1") == GC_E_ARGUMENT, "set PixelSize_um");
  printf("set PixelSize_um: %s\n", gc_last_error(core));
  CHECK(gc_get_property(core, "DStage", "PixelSize_um", text, sizeof text) == GC_E_ARGUMENT,
        "PixelSize_um of a stage");
  OK(gc_list_properties(core, "DStage", text, sizeof text));
  CHECK(strstr(text, "PixelSize_um") == NULL, "DStage lists PixelSize_um: %s", text);

  /* Motion. */
  double x, y, z, a, b;
  OK(gc_set_xy_um(core, "DXYStage", 100.0, -50.0));
  OK(gc_get_xy_um(core, "DXYStage", &x, &y));
  CHECK(fabs(x - 100.0) < 0.1 && fabs(y + 50.0) < 0.1, "xy %f %f", x, y);
  OK(gc_set_position_um(core, "DStage", 12.5));
  OK(gc_get_position_um(core, "DStage", &z));
  CHECK(fabs(z - 12.5) < 0.1, "z %f", z);
  OK(gc_set_scanner_deg(core, "DGalvo", 1.0, 2.0));
  OK(gc_get_scanner_deg(core, "DGalvo", &a, &b));
  printf("galvo: %f %f\n", a, b);
  OK(gc_wait_for_device(core, "DXYStage"));

  /* Config groups. */
  OK(gc_set_config(core, "Laser", "561 only"));
  OK(gc_get_config(core, "Laser", text, sizeof text));
  CHECK(strcmp(text, "561 only") == 0, "config %s", text);

  /* Camera settings. */
  double exp_ms;
  OK(gc_set_exposure_ms(core, "DCam", 5.0));
  OK(gc_get_exposure_ms(core, "DCam", &exp_ms));
  CHECK(fabs(exp_ms - 5.0) < 1e-9, "exposure %f", exp_ms);
  int rx, ry, rw, rh;
  OK(gc_set_roi(core, "DCam", 0, 0, 256, 128));
  OK(gc_get_roi(core, "DCam", &rx, &ry, &rw, &rh));
  CHECK(rw == 256 && rh == 128, "roi %d %d %d %d", rx, ry, rw, rh);
  size_t fb;
  OK(gc_frame_bytes(core, "DCam", &fb));
  CHECK(fb == 256u * 128u * 2u || fb == 256u * 128u, "frame bytes %zu", fb);
  /* The ROI is in sensor pixels at any binning (Micro-Manager's own is in binned pixels). */
  OK(gc_set_property(core, "DCam", "Binning", "2"));
  OK(gc_set_roi(core, "DCam", 64, 32, 256, 128));
  OK(gc_get_roi(core, "DCam", &rx, &ry, &rw, &rh));
  CHECK(rx == 64 && ry == 32 && rw == 256 && rh == 128, "roi at binning 2: %d %d %d %d", rx, ry, rw, rh);
  size_t binned;
  OK(gc_frame_bytes(core, "DCam", &binned));
  CHECK(binned * 4u == fb, "frame bytes at binning 2: %zu (binning 1: %zu)", binned, fb);
  CHECK(gc_set_roi(core, "DCam", 1, 0, 256, 128) == GC_E_ARGUMENT, "ROI off the binned grid");
  printf("ROI off the binned grid: %s\n", gc_last_error(core));
  OK(gc_set_property(core, "DCam", "Binning", "1"));
  OK(gc_set_roi(core, "DCam", 0, 0, 256, 128));
  buf_cap = fb;
  buf = malloc(buf_cap);

  /* Snap. */
  gc_frame_meta m;
  memset(buf, 0, buf_cap);
  OK(gc_snap(core, "DCam", buf, buf_cap, &m));
  CHECK(m.width == 256 && m.height == 128 && m.width * m.height * m.bytes_per_pixel == fb,
        "snap meta %u x %u x %u", m.width, m.height, m.bytes_per_pixel);
  CHECK(m.camera_index == 0 && fabs(m.x_um - 100.0) < 0.1 && fabs(m.piezo_um - 12.5) < 0.1,
        "snap meta idx %d x %f piezo %f", m.camera_index, m.x_um, m.piezo_um);
  size_t nonzero = 0;
  for (size_t i = 0; i < fb; i++) nonzero += buf[i] != 0;
  CHECK(nonzero > fb / 4, "snap pixels nonzero %zu of %zu", nonzero, fb);
  CHECK(gc_snap(core, "DCam", buf, fb - 1, &m) == GC_E_BUFFER, "small snap buffer");
  printf("small buffer: %s\n", gc_last_error(core));

  /* Sequence of 10 frames. */
  int per[8] = {0};
  uint64_t dropped = 0, seqs[64];
  double piezo[64];
  OK(gc_start_sequence(core, "DCam", 10, NULL));
  CHECK(gc_is_sequence_running(core) == 1 || 1, "running");
  CHECK(gc_start_sequence(core, "DCam", 10, NULL) == GC_E_BUSY, "busy start");
  CHECK(gc_snap(core, "DCam", buf, buf_cap, &m) == GC_E_BUSY, "busy snap");
  int n = drain(per, &dropped, seqs, NULL);
  CHECK(n == 10 && per[0] == 10 && dropped == 0, "seq frames %d dropped %llu", n,
        (unsigned long long)dropped);
  for (int i = 0; i < n && i < 10; i++) CHECK(seqs[i] == (uint64_t)i, "seq[%d]=%llu", i, (unsigned long long)seqs[i]);
  CHECK(gc_is_sequence_running(core) == 0, "not running after drain");
  CHECK(gc_pop_next(core, buf, buf_cap, &m, 10, NULL) == GC_E_NOT_RUNNING, "pop after drain");

  /* Sweep: DemoCamera has no SPIM controller, so the core says it cannot
   * sequence one and refuses it; the caller steps it, one short sequence per
   * slice, and each frame carries the piezo where it was. */
  OK(gc_list_devices(core, text, sizeof text));
  CHECK(strstr(text, "\"hardware_sweep\":false") != NULL && strstr(text, "\"device_api\":75") != NULL, "core info: %s", text);
  gc_sweep sw = {5, 10.0, 2.0, -1.0, 0.5};
  CHECK(gc_start_sequence(core, "DCam", 10, &sw) == GC_E_ARGUMENT && strstr(gc_last_error(core), "step the sweep"),
        "sweep refused: %s", gc_last_error(core));
  for (int i = 0; i < 5; i++) {
    OK(gc_set_position_um(core, "DStage", 10.0 + i * 2.0));
    OK(gc_wait_for_device(core, "DStage"));
    OK(gc_start_sequence(core, "DCam", 1, NULL));
    dropped = 0;
    n = drain(NULL, &dropped, seqs, piezo);
    CHECK(n == 1 && fabs(piezo[0] - (10.0 + i * 2.0)) < 1e-9, "stepped slice %d: %d frames at piezo %f", i, n, piezo[0]);
  }

  /* Timeout and stop. */
  OK(gc_set_exposure_ms(core, "DCam", 500.0));
  OK(gc_start_sequence(core, "DCam", 100, NULL));
  CHECK(gc_pop_next(core, buf, buf_cap, &m, 20, NULL) == GC_E_TIMEOUT, "timeout");
  OK(gc_get_property(core, "DCam", "PixelSize_um", text, sizeof text)); /* already current */
  if (dual)
    CHECK(gc_get_property(core, "DCam2", "PixelSize_um", text, sizeof text) == GC_E_BUSY,
          "PixelSize_um of another camera during a sequence");
  OK(gc_stop_sequence(core));
  dropped = 0;
  n = drain(NULL, &dropped, NULL, NULL);
  CHECK(n <= 1 && dropped == 0, "after stop: %d frames, %llu dropped", n, (unsigned long long)dropped);
  OK(gc_stop_sequence(core)); /* harmless when stopped */
  OK(gc_set_exposure_ms(core, "DCam", 5.0));

  /* Pop from a worker thread while the main thread keeps using the core. */
  struct popper p = {0, 0};
  pthread_t th;
  OK(gc_start_sequence(core, "DCam", 30, NULL));
  pthread_create(&th, NULL, pop_thread, &p);
  for (int i = 0; i < 200; i++) {
    OK(gc_get_position_um(core, "DStage", &z));
    OK(gc_get_property(core, "DCam", "Exposure", text, sizeof text));
  }
  pthread_join(th, NULL);
  CHECK(p.frames == 30 && p.rc == GC_E_NOT_RUNNING, "thread popped %d, rc %d", p.frames, p.rc);

  /* Two cameras. */
  if (dual) {
    OK(gc_set_roi(core, "DCam2", 0, 0, 256, 128));
    int per2[8] = {0};
    dropped = 0;
    OK(gc_start_sequence(core, "DCam,DCam2", 5, NULL));
    n = drain(per2, &dropped, NULL, NULL);
    CHECK(n == 10 && per2[0] == 5 && per2[1] == 5 && dropped == 0,
          "dual: %d frames (%d + %d), %llu dropped", n, per2[0], per2[1], (unsigned long long)dropped);
  }

  /* Errors come back as codes and messages. */
  CHECK(gc_set_xy_um(core, "NoSuchStage", 0, 0) == GC_E_ARGUMENT, "bad xy name");
  printf("bad xy name: %s\n", gc_last_error(core));
  CHECK(gc_set_xy_um(core, "DCam", 0, 0) == GC_E_ARGUMENT, "xy on a camera");
  printf("xy on a camera: %s\n", gc_last_error(core));
  CHECK(gc_get_position_um(core, "nope", &z) == GC_E_ARGUMENT, "bad stage");
  CHECK(gc_get_property(core, "DCam", "NoSuchProp", text, sizeof text) == GC_E_ARGUMENT, "bad prop");
  printf("bad prop: %s\n", gc_last_error(core));
  int rc = gc_set_property(core, "DCam", "PixelType", "42bit");
  CHECK(rc == GC_E_RANGE && strstr(gc_last_error(core), "not one it takes"), "bad value rc %d", rc);
  printf("bad value (%d): %s\n", rc, gc_last_error(core));
  rc = gc_set_config(core, "NoGroup", "x");
  CHECK(rc == GC_E_ARGUMENT, "bad group rc %d", rc);
  printf("bad group (%d): %s\n", rc, gc_last_error(core));
  rc = gc_set_config(core, "Laser", "no preset");
  CHECK(rc == GC_E_ARGUMENT, "bad preset rc %d", rc);
  CHECK(gc_snap(core, "DXYStage", buf, buf_cap, &m) == GC_E_ARGUMENT, "snap on a stage");
  CHECK(gc_start_sequence(core, "DCam,Nope", 5, NULL) == GC_E_ARGUMENT, "bad camera list");
  CHECK(gc_start_sequence(core, "DCam", 0, NULL) == GC_E_ARGUMENT, "count 0");
  CHECK(gc_set_exposure_ms(core, NULL, 1) == GC_E_ARGUMENT, "NULL camera");
  CHECK(gc_get_xy_um(NULL, "DXYStage", &x, &y) == GC_E_ARGUMENT, "NULL core");
  OK(gc_get_xy_um(core, "DXYStage", &x, &y)); /* still usable */

  /* Errors are per thread: another thread's failure does not replace this thread's own. */
  CHECK(gc_get_xy_um(core, "OnMain", &x, &y) == GC_E_ARGUMENT, "main fails");
  pthread_t other;
  pthread_create(&other, NULL, fail_elsewhere, core);
  pthread_join(other, NULL);
  CHECK(strstr(gc_last_error(core), "OnMain") != NULL, "main still reads its own failure: %s", gc_last_error(core));
  OK(gc_get_xy_um(core, "DXYStage", &x, &y));
  CHECK(strstr(gc_last_error(core), "OnWorker") != NULL, "after a success: the core's latest failure: %s", gc_last_error(core));

  gc_close(core);
  free(buf);

  /* A camera without a pixel size configuration: GC_E_DEVICE and a hint. */
  char nocal[] = "/tmp/gently_mmcore_nocal_XXXXXX";
  int fd = mkstemp(nocal);
  FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
  CHECK(f != NULL, "temp config");
  if (f) {
    fputs("Property,Core,Initialize,0\n"
          "Device,DHub,DemoCamera,DHub\n"
          "Device,DCam,DemoCamera,DCam\n"
          "Parent,DCam,DHub\n"
          "Property,Core,Initialize,1\n"
          "Property,Core,Camera,DCam\n",
          f);
    fclose(f);
    core = gc_open(nocal, err, sizeof err);
    CHECK(core != NULL, "open uncalibrated config: %s", err);
    if (core) {
      OK(gc_list_properties(core, "DCam", text, sizeof text));
      CHECK(strstr(text, "\"PixelSize_um\"") != NULL, "uncalibrated DCam lists PixelSize_um");
      rc = gc_get_property(core, "DCam", "PixelSize_um", text, sizeof text);
      CHECK(rc == GC_E_DEVICE && strstr(gc_last_error(core), "pixel size configuration"),
            "uncalibrated PixelSize_um rc %d (%s)", rc, gc_last_error(core));
      printf("uncalibrated PixelSize_um (%d): %s\n", rc, gc_last_error(core));
      gc_close(core);
    }
    unlink(nocal);
  }
  printf(failures ? "%d FAILURES\n" : "all mmcore shim checks passed\n", failures);
  return failures ? 1 : 0;
}
