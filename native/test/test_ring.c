/* Behaviour of the shared-memory ring: make -C native test */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef _WIN32
#include <windows.h>
#else
#include <sys/wait.h>
#endif

#include "check.h"
#include "gently_ring.h"

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static char path[256];

static void fill(uint8_t *p, size_t n, uint64_t seq) {
  for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(seq * 31 + i * 7);
}

static int verify(const uint8_t *p, size_t n, uint64_t seq) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != (uint8_t)(seq * 31 + i * 7)) return 0;
  return 1;
}

static void test_roundtrip_between_handles(void) {
  char err[256];
  gr_ring *w = gr_create(path, 10000, 3, err, sizeof err);
  CHECK(w, "create: %s", err);
  gr_ring *r = gr_open(path, err, sizeof err);
  CHECK(r, "open: %s", err);
  if (!w || !r) return;
  CHECK(((uintptr_t)gr_slot_ptr(w, 1) & 4095) == 0, "slot data is 4096-aligned");
  int s = gr_acquire(w, 0);
  CHECK(s == 0, "first acquire gets slot 0, got %d", s);
  fill(gr_slot_ptr(w, (uint32_t)s), 10000, 7);
  CHECK(gr_commit(w, (uint32_t)s, 7, 10000) == GR_OK, "commit");
  uint8_t *dst = malloc(10000);
  CHECK(gr_read(r, (uint32_t)s, 7, dst, 9999) == GR_E_BUFFER, "short buffer refused");
  CHECK(gr_read(r, (uint32_t)s, 8, dst, 10000) == GR_E_STALE, "wrong seq refused");
  CHECK(gr_read(r, (uint32_t)s, 7, dst, 10000) == 10000, "read returns byte count");
  CHECK(verify(dst, 10000, 7), "reader sees the producer's bytes");
  uint64_t seq = 0, bytes = 0;
  CHECK(gr_slot_info(r, (uint32_t)s, &seq, &bytes) == GR_STATE_FULL && seq == 7 && bytes == 10000, "slot info");
  CHECK(gr_release(r, (uint32_t)s, 6) == GR_E_STALE, "stale release refused");
  CHECK(gr_release(r, (uint32_t)s, 7) == GR_OK, "release");
  CHECK(gr_release(r, (uint32_t)s, 7) == GR_E_STALE, "double release refused");
  CHECK(gr_read(r, (uint32_t)s, 7, dst, 10000) == GR_E_STALE, "read after release refused");
  CHECK(gr_commit(w, (uint32_t)s, 9, 10) == GR_E_STATE, "commit of a slot not acquired refused");
  CHECK(gr_commit(w, 5, 9, 10) == GR_E_ARGUMENT, "slot out of range");
  free(dst);
  gr_close(r);
  gr_close(w);
}

static void test_back_pressure_and_stale_release(void) {
  char err[256];
  gr_ring *w = gr_create(path, 64, 2, err, sizeof err);
  CHECK(w, "create: %s", err);
  if (!w) return;
  int a = gr_acquire(w, 0), b = gr_acquire(w, 0);
  CHECK(a == 0 && b == 1, "two slots: %d %d", a, b);
  gr_commit(w, 0, 100, 64);
  gr_commit(w, 1, 101, 64);
  double t0 = now_ms();
  int c = gr_acquire(w, 60);
  double dt = now_ms() - t0;
  CHECK(c == GR_E_TIMEOUT, "full ring times out, got %d", c);
  CHECK(dt >= 55 && dt < 1000, "waited the timeout: %.1f ms", dt);
  uint32_t nfree, nfull, n;
  uint64_t sb;
  gr_stats(w, &nfree, &nfull, &n, &sb);
  CHECK(nfree == 0 && nfull == 2 && n == 2 && sb == 64, "stats %u %u %u %llu", nfree, nfull, n,
        (unsigned long long)sb);
  /* Reader releases frame 100; slot 0 is reused for frame 102. A late
   * release of frame 100 must not free frame 102. */
  CHECK(gr_release(w, 0, 100) == GR_OK, "release 100");
  CHECK(gr_acquire(w, 0) == 0, "slot 0 free again");
  CHECK(gr_release(w, 0, 100) == GR_E_STALE, "release while the slot is being written refused");
  gr_commit(w, 0, 102, 64);
  CHECK(gr_release(w, 0, 100) == GR_E_STALE, "late release of 100 does not free 102");
  CHECK(gr_slot_info(w, 0, NULL, NULL) == GR_STATE_FULL, "102 still full");
  CHECK(gr_reset(w) == GR_OK, "reset");
  gr_stats(w, &nfree, &nfull, &n, &sb);
  CHECK(nfree == 2 && nfull == 0, "reset frees all");
  CHECK(gr_release(w, 0, 102) == GR_E_STALE, "release after reset refused");
  gr_close(w);
}

typedef struct {
  gr_ring *r;
} releaser_arg;

static void *release_later(void *p) {
  releaser_arg *a = p;
  usleep(30000);
  gr_release(a->r, 0, 1);
  return NULL;
}

static void test_blocked_acquire_wakes_on_release(void) {
  char err[256];
  gr_ring *w = gr_create(path, 64, 1, err, sizeof err);
  gr_ring *r = gr_open(path, err, sizeof err);
  CHECK(w && r, "create/open: %s", err);
  if (!w || !r) return;
  gr_acquire(w, 0);
  gr_commit(w, 0, 1, 8);
  releaser_arg a = {r};
  pthread_t t;
  pthread_create(&t, NULL, release_later, &a);
  double t0 = now_ms();
  int s = gr_acquire(w, 5000);
  double dt = now_ms() - t0;
  pthread_join(t, NULL);
  CHECK(s == 0, "acquire after release, got %d", s);
  CHECK(dt >= 25 && dt < 500, "woke on release, not timeout: %.1f ms", dt);
  gr_close(r);
  gr_close(w);
}

/* A reader in another process, slower than the producer: nothing may be lost. */
enum { XP_FRAMES = 300, XP_SLOTS = 4, XP_BYTES = 4096 * 3 + 5 };
typedef struct {
  uint32_t slot;
  uint64_t seq;
} frame_msg;

/* The reader process: frames announced on `in` (a pipe), read, checked and released. Its exit status. */
static int slow_reader(FILE *in) {
  char err[256];
  gr_ring *r = gr_open(path, err, sizeof err);
  if (!r) return 10;
  uint8_t *dst = malloc(XP_BYTES);
  frame_msg msg;
  uint64_t expect = 0;
  while (fread(&msg, sizeof msg, 1, in) == 1) {
    if (msg.seq != expect) return 11;
    if (gr_read(r, msg.slot, msg.seq, dst, XP_BYTES) != XP_BYTES) return 12;
    if (!verify(dst, XP_BYTES, msg.seq)) return 13;
    if (msg.seq % 16 == 0) usleep(2000); /* slow reader */
    if (gr_release(r, msg.slot, msg.seq) != GR_OK) return 14;
    expect++;
  }
  return expect == XP_FRAMES ? 0 : 15;
}

#ifdef _WIN32
/* No fork on Windows: the reader is this program again ("reader <ring name>"), fed through its stdin. */
static FILE *start_reader(const char *self, HANDLE *child) {
  SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, TRUE};
  HANDLE rd, wr;
  if (!CreatePipe(&rd, &wr, &sa, 0)) return NULL;
  SetHandleInformation(wr, HANDLE_FLAG_INHERIT, 0);
  STARTUPINFOA si = {0};
  si.cb = sizeof si;
  si.dwFlags = STARTF_USESTDHANDLES;
  si.hStdInput = rd;
  si.hStdOutput = GetStdHandle(STD_OUTPUT_HANDLE);
  si.hStdError = GetStdHandle(STD_ERROR_HANDLE);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "\"%s\" reader %s", self, path);
  PROCESS_INFORMATION pi;
  if (!CreateProcessA(NULL, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi)) return NULL;
  CloseHandle(rd);
  CloseHandle(pi.hThread);
  *child = pi.hProcess;
  return fdopen(_open_osfhandle((intptr_t)wr, 0), "wb");
}

static int wait_reader(HANDLE child) {
  DWORD code = 99;
  WaitForSingleObject(child, INFINITE);
  GetExitCodeProcess(child, &code);
  CloseHandle(child);
  return (int)code;
}
#else
static FILE *start_reader(const char *self, pid_t *child) {
  (void)self;
  int pipefd[2];
  if (pipe(pipefd) != 0) return NULL;
  *child = fork();
  if (*child == 0) {
    close(pipefd[1]);
    _exit(slow_reader(fdopen(pipefd[0], "rb")));
  }
  close(pipefd[0]);
  return fdopen(pipefd[1], "wb");
}

static int wait_reader(pid_t child) {
  int status = 0;
  waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 99;
}
#endif

static void test_cross_process_slow_reader(const char *self) {
  char err[256];
  gr_ring *w = gr_create(path, XP_BYTES, XP_SLOTS, err, sizeof err);
  CHECK(w, "create: %s", err);
  if (!w) return;
#ifdef _WIN32
  HANDLE child;
#else
  pid_t child;
#endif
  FILE *out = start_reader(self, &child);
  CHECK(out, "start the reader process");
  if (!out) return;
  int timeouts = 0;
  for (uint64_t seq = 0; seq < XP_FRAMES; seq++) {
    int s;
    /* The first frame past the ring's size waits for the reader process to start (slow under Wine). */
    while ((s = gr_acquire(w, 100)) == GR_E_TIMEOUT) timeouts += seq != XP_SLOTS;
    fill(gr_slot_ptr(w, (uint32_t)s), XP_BYTES, seq);
    gr_commit(w, (uint32_t)s, seq, XP_BYTES);
    frame_msg msg = {(uint32_t)s, seq};
    if (fwrite(&msg, sizeof msg, 1, out) != 1 || fflush(out) != 0) break;
  }
  fclose(out);
  int status = wait_reader(child);
  CHECK(status == 0, "child reader exit %d", status);
  CHECK(timeouts == 0, "producer waited (blocking), never timed out at 100 ms: %d", timeouts);
  uint32_t nfree;
  gr_stats(w, &nfree, NULL, NULL, NULL);
  CHECK(nfree == XP_SLOTS, "all slots released: %u", nfree);
  gr_close(w);
}

static void test_open_refuses_non_rings(void) {
  char err[256] = "";
#ifdef _WIN32
  /* A named mapping of the same name that is not a ring. */
  HANDLE m = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 8192, path);
  CHECK(m, "create a foreign mapping");
  char *p = MapViewOfFile(m, FILE_MAP_ALL_ACCESS, 0, 0, 8192);
  memset(p, 'x', 8192);
#else
  FILE *f = fopen(path, "w");
  for (int i = 0; i < 8192; i++) fputc('x', f);
  fclose(f);
#endif
  gr_ring *r = gr_open(path, err, sizeof err);
  CHECK(!r && strstr(err, "not a gently ring"), "refused: %s", err);
#ifdef _WIN32
  /* Another size under a name still held elsewhere cannot be replaced: refused, naming why. */
  CHECK(!gr_create(path, 1 << 20, 2, err, sizeof err) && strstr(err, "still open in another process"), "held name: %s", err);
  UnmapViewOfFile(p);
  CloseHandle(m);
#endif
  CHECK(!gr_open("/nonexistent/ring", err, sizeof err) && strstr(err, "/nonexistent/ring"), "names path: %s", err);
  CHECK(!gr_create(path, 0, 4, err, sizeof err) && strstr(err, "geometry"), "bad geometry: %s", err);
}

int main(int argc, char **argv) {
#ifdef _WIN32
  if (argc == 3 && strcmp(argv[1], "reader") == 0) {
    snprintf(path, sizeof path, "%s", argv[2]);
    _setmode(_fileno(stdin), 0x8000 /* _O_BINARY */);
    return slow_reader(stdin);
  }
  snprintf(path, sizeof path, "Local\\gently-ring-test-%d", (int)getpid());
#else
  (void)argc;
  snprintf(path, sizeof path, "/dev/shm/gently-ring-test-%d", (int)getpid());
#endif
  test_roundtrip_between_handles();
  test_back_pressure_and_stale_release();
  test_blocked_acquire_wakes_on_release();
  test_cross_process_slow_reader(argv[0]);
  test_open_refuses_non_rings();
  gr_unlink(path);
  return check_report("test_ring");
}
