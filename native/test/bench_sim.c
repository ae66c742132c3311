/* Frames per second the simulator renders on one thread, full 2048x2048
 * frames (gcsim_render: the camera's own pacing of gc_snap left out, so this
 * is the headroom above the simulated camera's ~100 frames/s). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "gently_sim.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void check(int rc, gc_core *c, const char *what) {
  if (rc != GC_OK) {
    fprintf(stderr, "%s failed (%d): %s\n", what, rc, gc_last_error(c));
    exit(1);
  }
}

static double bench(gc_core *c, const char *camera, uint16_t *buf, size_t cap, int frames) {
  gcsim_state st;
  check(gcsim_get_state(c, camera, &st), c, "state");
  check(gcsim_render(c, camera, &st, 0, buf, cap), c, "warm-up render");
  double t0 = now_s();
  for (int i = 0; i < frames; i++) check(gcsim_render(c, camera, &st, (uint64_t)i, buf, cap), c, "render");
  return frames / (now_s() - t0);
}

int main(int argc, char **argv) {
  int frames = argc > 1 ? atoi(argv[1]) : 200;
  char err[256];
  gc_core *c = gc_open(NULL, err, sizeof err);
  if (!c) return fprintf(stderr, "gc_open: %s\n", err), 1;
  size_t cap = 2048u * 2048u * 2u;
  uint16_t *buf = aligned_alloc(4096, cap);
  check(gc_set_roi(c, "HamCam1", 0, 0, 2048, 2048), c, "roi");
  check(gc_set_config(c, "Laser", "488 only"), c, "laser");
  double ls = bench(c, "HamCam1", buf, cap, frames);
  check(gc_set_config(c, "LED", "Open"), c, "led");
  double bf = bench(c, "Bottom PCO", buf, cap, frames);
  check(gc_set_config(c, "Laser", "ALL OFF"), c, "laser off");
  check(gc_set_config(c, "LED", "Closed"), c, "led closed");
  double dark = bench(c, "HamCam1", buf, cap, frames);
  printf("sim 2048x2048 uint16, one thread: light-sheet 488 %.1f fps (%.2f ns/px), brightfield %.1f fps (%.2f ns/px), "
         "dark %.1f fps\n",
         ls, 1e9 / (ls * 2048.0 * 2048.0), bf, 1e9 / (bf * 2048.0 * 2048.0), dark);
  free(buf);
  gc_close(c);
  return 0;
}
