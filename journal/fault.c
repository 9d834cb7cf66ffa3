/*
 * fault.c — the fault points' countdowns (fault.h). Compiled empty
 * without CAIRN_FAULTS. The counters are atomics: a journal is used from
 * the loop thread and from libuv's pool (readers), and a test may arm a
 * point while another thread counts.
 */
#include "fault.h"

#ifdef CAIRN_FAULTS
#include <stdatomic.h>
#include <stdio.h>

typedef struct point {
  _Atomic uint64_t calls;
  _Atomic uint64_t nth;   /* 0: disarmed */
  _Atomic uint64_t fired;
  _Atomic bool persistent;
} point;

static point points[CAIRN__FAULT_KINDS];
static atomic_flag env_read = ATOMIC_FLAG_INIT;

/* CAIRN_FAULT=write:N | sync:N | alloc:N, optionally ":p". */
static void arm_from_env(void) {
  const char *s = getenv("CAIRN_FAULT");
  if (s == NULL || *s == '\0')
    return;
  static const char *const names[] = {"write", "sync", "alloc"};
  for (int k = 0; k < CAIRN__FAULT_KINDS; k++) {
    size_t len = strlen(names[k]);
    if (strncmp(s, names[k], len) != 0 || s[len] != ':')
      continue;
    char *end;
    unsigned long long n = strtoull(s + len + 1, &end, 10);
    if (n > 0 && (*end == '\0' || strcmp(end, ":p") == 0)) {
      cairn__fault_arm((cairn__fault_kind)k, n, *end == ':');
      return;
    }
  }
  fprintf(stderr, "cairn: CAIRN_FAULT='%s' is not write:N, sync:N or "
                  "alloc:N (N >= 1, then :p for persistent); ignored\n", s);
}

bool cairn__fault_hit(cairn__fault_kind k) {
  if (!atomic_flag_test_and_set(&env_read))
    arm_from_env();
  point *p = &points[k];
  uint64_t call = atomic_fetch_add(&p->calls, 1) + 1;
  uint64_t nth = atomic_load(&p->nth);
  if (nth == 0 || call < nth || (call > nth && !atomic_load(&p->persistent)))
    return false;
  atomic_fetch_add(&p->fired, 1);
  errno = k == CAIRN__FAULT_ALLOC ? ENOMEM : EIO;
  return true;
}

void cairn__fault_arm(cairn__fault_kind k, uint64_t n, bool persistent) {
  atomic_flag_test_and_set(&env_read); /* arming by hand wins */
  point *p = &points[k];
  atomic_store(&p->nth, 0);
  atomic_store(&p->calls, 0);
  atomic_store(&p->fired, 0);
  atomic_store(&p->persistent, persistent);
  atomic_store(&p->nth, n);
}

uint64_t cairn__fault_calls(cairn__fault_kind k) {
  return atomic_load(&points[k].calls);
}

uint64_t cairn__fault_fired(cairn__fault_kind k) {
  return atomic_load(&points[k].fired);
}
#else
/* ISO C wants at least one declaration in a translation unit. */
typedef int cairn__fault_unused;
#endif
