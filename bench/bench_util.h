/*
 * bench_util.h — what every benchmark in bench/ needs: clocks, samples
 * and their percentiles, paths inside the scratch directory and its
 * removal. Header-only (static inline): each benchmark is its own
 * executable, built from one .c file.
 */
#ifndef CAIRN_BENCH_UTIL_H
#define CAIRN_BENCH_UTIL_H

#include <errno.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Monotonic seconds: for durations. */
static inline double bench_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds of the whole process (every thread). */
static inline double bench_cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wall-clock µs since the epoch: comparable with event times. */
static inline int64_t bench_wall_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* qsort comparator for doubles, ascending. */
static inline int bench_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Nearest-rank percentile p (0..1] of v[0..n), which it sorts; 0 when
 * there is no sample. */
static inline double bench_percentile(double *v, size_t n, double p) {
  if (n == 0)
    return 0;
  qsort(v, n, sizeof *v, bench_cmp_double);
  double rank = p * (double)n;
  size_t i = (size_t)rank;
  i += (double)i < rank; /* ceil */
  return v[i ? (i <= n ? i : n) - 1 : 0];
}

/* Samples that grow as they come (a sample that finds no memory is
 * dropped). Free v when done. */
typedef struct bench_samples {
  double *v;
  size_t n, cap;
} bench_samples;

static inline void bench_samples_add(bench_samples *s, double x) {
  if (s->n == s->cap) {
    size_t cap = s->cap ? 2 * s->cap : 1024;
    double *p = realloc(s->v, cap * sizeof *p);
    if (p == NULL)
      return;
    s->v = p;
    s->cap = cap;
  }
  s->v[s->n++] = x;
}

/* "dir/name" into out; -1 (with a message) when it does not fit. */
static inline int bench_subdir(char *out, size_t cap, const char *dir,
                               const char *name) {
  int n = snprintf(out, cap, "%s/%s", dir, name);
  if (n < 0 || (size_t)n >= cap) {
    fprintf(stderr, "bench: path too long: %s/%s\n", dir, name);
    return -1;
  }
  return 0;
}

static inline int bench_remove_entry(const char *path, const struct stat *st,
                                     int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  if (remove(path) != 0)
    fprintf(stderr, "bench: removing %s: %s\n", path, strerror(errno));
  return 0;
}

/* Removes the scratch directory and everything in it. */
static inline void bench_remove_tree(const char *dir) {
  nftw(dir, bench_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif /* CAIRN_BENCH_UTIL_H */
