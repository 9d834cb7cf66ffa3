/*
 * fork.c — the fork benchmark: what a reset costs, and that the cost does
 * not grow with the length of the parent's history.
 *
 *   bench_fork [--quick]
 *
 * Everything happens in a fresh directory under $TMPDIR (default /tmp),
 * removed at exit: one journal home per parent run, so that two parents
 * differ in nothing but their histories, each with a config.json that
 * lifts the fork limits ({"limits": {"max_fork_depth": 1000,
 * "max_forks_per_minute": 1000000}}), since every measurement is one more
 * reset of the same parent within the same minute. The figures are only
 * meaningful on a real disk: on a tmpfs an fsync costs nothing.
 *
 * Parents. Every parent is a completed run of the same STEPS steps "s1" ..
 * "s20" whose history holds about 1,000, 10,000 or 100,000 events. A run
 * with no retry and no signal holds 2 + 2 x STEPS events (run.started, a
 * step.started and a step.completed per step, run.completed); the history
 * grows in one of three ways, one scenario each:
 *   retries         s1, then s2..s17 all needing s1 (so they retry side by
 *                   side: a retry waits at least 1 ms, and one step alone
 *                   would take minutes to fail 33,000 times), s18 needing
 *                   them all, s19, s20. s2..s17 are native steps of kind
 *                   "flaky" that fail retryably until attempt `fail` + 1
 *                   (their `with` says {"fail": N}) under the policy
 *                   {"max_attempts": N + 1, "initial_delay_ms": 0,
 *                   "backoff": 1, "max_delay_ms": 0}: every failed attempt
 *                   leaves step.started, step.failed, step.retry_scheduled.
 *                   The other steps are "noop" native steps (output null).
 *   signals-before  chained steps; s5 is a `wait` for signal "go". While it
 *                   waits the run receives N signals "noise"
 *                   (cairn_engine_signal: a signal.received and an audit
 *                   record each), then "go".
 *   signals-after   the same with the wait at s19, after the reset point:
 *                   a reset re-delivers every signal the parent received
 *                   after the point, so this scenario's reset writes N + 1
 *                   events more and is expected to grow. It is here to show
 *                   that cost apart; its parents stop at 10k events (each
 *                   reset of a 100k one writes 100k events: too slow for a
 *                   one-minute benchmark) and it runs AFTER_REPEATS rounds
 *                   at most.
 * The histories are built by an engine with no_sync = true
 * (cairn_engine_work with CAIRN_WORK_RUN; for the signals, CAIRN_WORK_DRAIN
 * until the run waits, then the signals, then CAIRN_WORK_RUN), then
 * closed.
 *
 * Measurement. Each home is reopened by a durable engine (no_sync = false,
 * the step kinds registered again: the fork parses the definition); the
 * engines of a scenario's parents are open at once. A reset is one
 * cairn_engine_fork call, kind CAIRN_FORK_RESET at step RESET_STEP ("s18",
 * a late completed step: s1..s18 are reused, s19 and s20 would run again),
 * execute = false (the new run is not executed), timed with
 * CLOCK_MONOTONIC from the call to its return: reading the parent's step
 * views, the checks (depth, rate limit), the definition, and the one
 * durable commit of the new run with its step.reused events. The process
 * CPU time of the call is taken too: the commit's fsync shows in wall time
 * only, so CPU time is the sharper test of work that grows with the
 * history. Every round resets each parent of the scenario once (the order
 * rotating from round to round, so drift hits all sizes alike); each reset
 * creates a new run (the parent stays the same: a derivation of depth 1).
 * One warm-up round is not counted; then REPEATS rounds, and the median of
 * each size is its figure. The first reset of each parent is checked: the
 * new run holds run.started, one step.reused per kept step, and the
 * re-delivered signals.
 *
 * After the resets, each home's audit records of the last minute are
 * counted and timed, read newest first with cairn_reader_audit_backwards
 * as the fork's rate limit reads them: every signal is a control action
 * with an audit record, so a parent grown by signals within the last
 * minute brings that many records along.
 *
 * The RESULT line takes the retries scenario (the history grows, nothing
 * else does). Ratios 100k/1k are printed for every scenario, with a target
 * (printed, never enforced) for the two whose reset should be flat.
 * --quick is a smoke run of a few seconds: the same retries parents,
 * fewer rounds, and the signal parents only up to 10k events.
 *
 * Stale assets (docs/assets.md). A replay first asks which assets its
 * parent produced are stale: cairn_run_stale_assets, one catalogue lookup
 * per asset and per upstream. Two journals are written with the journal
 * API (no engine, no_sync): a run whose one step materialized STALE_ASSETS
 * assets, each built from one upstream asset; a later run that supersedes
 * STALE_NEWER of those keys; and filler runs of 1,000 assets each, so that
 * the catalogue holds 1k and 100k entries. The check is timed (reader
 * begin to end, median of STALE_REPEATS) on each: it must stay flat in
 * the catalogue's size (a lookup is a B-tree search).
 */
#include "bench_util.h"
#include <cairn/cairn.h>
#include <cairn/engine.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STEPS 20
#define RESET_STEP "s18"
#define RESET_INDEX 18        /* steps kept by the reset: s1..s18 */
#define FLAKY_FIRST 2         /* retries: s2..s17 fail, in parallel */
#define FLAKY_LAST 17
#define N_FLAKY (FLAKY_LAST - FLAKY_FIRST + 1)
#define WAIT_BEFORE 5         /* signals-before: the wait step */
#define WAIT_AFTER 19         /* signals-after: the wait step */
#define REPEATS 15
#define REPEATS_QUICK 4
/* signals-after: each reset writes the parent's signals again, so fewer
 * rounds, and no parent above 10k events (see run_scenario). */
#define AFTER_REPEATS 5
#define AFTER_MAX_EVENTS 10000
#define BASE_EVENTS (2 + 2 * STEPS)
/* A reset is flat when 100k / 1k stays under this (printed only). */
#define TARGET_RATIO 1.5
#define STALE_ASSETS 1000     /* assets of the replayed run */
#define STALE_NEWER 100       /* of which a later run supersedes */
#define STALE_REPEATS 21

static const uint32_t sizes[] = {1000, 10000, 100000};
static const char *const size_names[] = {"1k", "10k", "100k"};
#define N_SIZES (sizeof sizes / sizeof sizes[0])

static const char limits_json[] =
    "{\"limits\": {\"max_fork_depth\": 1000, "
    "\"max_forks_per_minute\": 1000000}}\n";

typedef enum grow {
  GROW_RETRIES = 0,
  GROW_SIGNALS_BEFORE = 1,
  GROW_SIGNALS_AFTER = 2
} grow;
#define N_GROW 3

static const char *const grow_names[N_GROW] = {"retries", "signals-before",
                                               "signals-after"};

typedef struct config {
  bool quick;
  int repeats;
} config;

/* One parent run and what its resets cost. */
typedef struct parent {
  bool used;
  uint32_t target;                  /* events wanted */
  uint32_t extra;                   /* failed attempts, or noise signals */
  uint32_t events;                  /* events its history holds */
  double build_s;
  char run_id[CAIRN_RUN_ID_LEN + 1];
  uint32_t new_events;              /* a reset's new run: its events */
  uint32_t want_new_events;
  double *wall_us, *cpu_us;         /* per counted reset */
  int n;
  double p50_us, min_us, max_us, cpu_p50_us;
  uint64_t audit_records;           /* its home's, of the last minute */
  double audit_scan_us;             /* reading them newest first */
} parent;

typedef struct scenario {
  grow g;
  parent p[N_SIZES];
} scenario;

/* -------------------------------------------------------------- helpers */





/* The median of v[0..n) (sorts a copy). */
static double median(const double *v, int n) {
  if (n <= 0)
    return 0;
  double *c = malloc((size_t)n * sizeof *c);
  if (c == NULL)
    return 0;
  memcpy(c, v, (size_t)n * sizeof *c);
  qsort(c, (size_t)n, sizeof *c, bench_cmp_double);
  double m = n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
  free(c);
  return m;
}

/* out = dir/name; -1 when it does not fit. */

static int engine_fail(cairn_engine *e, const char *what, int rc) {
  fprintf(stderr, "bench_fork: %s: %s: %s\n", what, cairn_err_name(rc),
          e ? cairn_engine_errmsg(e) : "");
  return -1;
}

/* ---------------------------------------------------------- step kinds */

static void noop_fn(void *ctx, const cairn_native_call *call,
                    cairn_native_result *res) {
  (void)ctx;
  (void)call;
  res->output = NULL;
}

/* Fails retryably while the attempt is not above `fail` of its input. */
static void flaky_fn(void *ctx, const cairn_native_call *call,
                     cairn_native_result *res) {
  (void)ctx;
  const char *f = call->input ? strstr(call->input, "\"fail\"") : NULL;
  unsigned long fail = 0;
  if (f && (f = strchr(f, ':')) != NULL)
    fail = strtoul(f + 1, NULL, 10);
  if (call->attempt <= fail) {
    res->error = strdup("flaky: not yet");
    res->retryable = true;
    return;
  }
  char buf[64];
  snprintf(buf, sizeof buf, "{\"attempt\":%u}", call->attempt);
  res->output = strdup(buf);
}

/* ---------------------------------------------------------- engines */

static int write_config(const char *home) {
  char path[4200];
  if (mkdir(home, 0700) != 0 && errno != EEXIST) {
    fprintf(stderr, "bench_fork: mkdir %s: %s\n", home, strerror(errno));
    return -1;
  }
  snprintf(path, sizeof path, "%s/config.json", home);
  FILE *f = fopen(path, "w");
  if (f == NULL || fputs(limits_json, f) < 0 || fclose(f) != 0) {
    fprintf(stderr, "bench_fork: writing %s: %s\n", path, strerror(errno));
    return -1;
  }
  return 0;
}

static cairn_engine *engine_open(const char *home, bool no_sync) {
  cairn_engine_options o = {.home = home, .no_sync = no_sync};
  cairn_engine *e = NULL;
  char err[512] = "";
  int rc = cairn_engine_open(&o, &e, err, sizeof err);
  if (rc) {
    fprintf(stderr, "bench_fork: opening an engine on %s: %s\n", home,
            *err ? err : cairn_strerror(rc));
    return NULL;
  }
  rc = cairn_engine_register_kind(e, "noop", noop_fn, NULL);
  if (rc == 0)
    rc = cairn_engine_register_kind(e, "flaky", flaky_fn, NULL);
  if (rc) {
    engine_fail(e, "registering the step kinds", rc);
    cairn_engine_close(e);
    return NULL;
  }
  return e;
}

/* The parent's status and event count. */
static int run_state(cairn_engine *e, const char *run_id, int *status,
                     uint32_t *events) {
  cairn_reader *r;
  cairn_run_info info;
  int rc = cairn_reader_begin(cairn_engine_journal(e), &r);
  if (rc == 0) {
    rc = cairn_reader_run_by_id(r, run_id, &info);
    cairn_reader_end(r);
  }
  if (rc) {
    fprintf(stderr, "bench_fork: reading run %s: %s: %s\n", run_id,
            cairn_err_name(rc),
            cairn_journal_errmsg(cairn_engine_journal(e)));
    return -1;
  }
  *status = info.status;
  *events = info.last_seq;
  return 0;
}

/* -------------------------------------------------------- definitions */

/* The parent's definition: STEPS steps. Retries: s1, then s2..s17 all
 * needing s1 (in parallel), each failing fails[k] times, s18 needing them
 * all, s19, s20. Signals: chained, one of them a wait. */
static char *parent_def(grow g, const char *name, const uint32_t *fails) {
  size_t cap = 1024 + (size_t)STEPS * 256, n = 0;
  char *s = malloc(cap);
  if (s == NULL)
    return NULL;
  int wait = g == GROW_SIGNALS_BEFORE ? WAIT_BEFORE : WAIT_AFTER;
  n += (size_t)snprintf(s + n, cap - n, "{\"name\":\"%s\",\"steps\":[", name);
  for (int i = 1; i <= STEPS; i++) {
    const char *sep = i > 1 ? "," : "";
    if (g == GROW_RETRIES && i >= FLAKY_FIRST && i <= FLAKY_LAST) {
      uint32_t f = fails[i - FLAKY_FIRST];
      n += (size_t)snprintf(
          s + n, cap - n,
          "%s{\"name\":\"s%d\",\"kind\":\"flaky\",\"needs\":[\"s%d\"],"
          "\"with\":{\"fail\":%u},\"retry\":{\"max_attempts\":%u,"
          "\"initial_delay_ms\":0,\"backoff\":1,\"max_delay_ms\":0}}",
          sep, i, FLAKY_FIRST - 1, f, f + 1);
    }
    else if (g == GROW_RETRIES && i == FLAKY_LAST + 1) {
      n += (size_t)snprintf(s + n, cap - n,
                            "%s{\"name\":\"s%d\",\"kind\":\"noop\","
                            "\"needs\":[", sep, i);
      for (int k = FLAKY_FIRST; k <= FLAKY_LAST; k++)
        n += (size_t)snprintf(s + n, cap - n, "%s\"s%d\"",
                              k > FLAKY_FIRST ? "," : "", k);
      n += (size_t)snprintf(s + n, cap - n, "]}");
    }
    else if (g != GROW_RETRIES && i == wait) {
      n += (size_t)snprintf(s + n, cap - n,
                            "%s{\"name\":\"s%d\",\"kind\":\"wait\","
                            "\"with\":{\"signal\":\"go\"}}", sep, i);
    }
    else {
      n += (size_t)snprintf(s + n, cap - n,
                            "%s{\"name\":\"s%d\",\"kind\":\"noop\"}", sep, i);
    }
  }
  snprintf(s + n, cap - n, "]}");
  return s;
}

/* ------------------------------------------------------------ parents */

/* Builds parent i of scenario g in its own home, with a no_sync engine. */
static int build_parent(const char *home, grow g, size_t i, parent *p) {
  char name[64];
  uint32_t fails[N_FLAKY];
  int status;
  p->used = true;
  p->target = sizes[i];
  /* A failed attempt is 3 events; a noise signal 1 (plus "go"). */
  p->extra = g == GROW_RETRIES ? (p->target - BASE_EVENTS) / 3
                               : p->target - BASE_EVENTS - 1;
  for (uint32_t k = 0; k < N_FLAKY; k++)
    fails[k] = p->extra / N_FLAKY + (k < p->extra % N_FLAKY);
  snprintf(name, sizeof name, "fork_%s_%s", g == GROW_RETRIES ? "retries"
           : g == GROW_SIGNALS_BEFORE ? "before" : "after", size_names[i]);
  char *def = parent_def(g, name, fails);
  if (def == NULL || write_config(home) != 0) {
    free(def);
    return -1;
  }
  cairn_engine *e = engine_open(home, true);
  if (e == NULL) {
    free(def);
    return -1;
  }
  cairn_start_request req = {.definition = def, .workflow_id = name,
                             .execute = true, .actor = "bench"};
  cairn_start_result out;
  double t0 = bench_now_s();
  int rc = cairn_engine_start(e, &req, &out);
  free(def);
  rc = rc ? engine_fail(e, "starting a parent", rc) : 0;
  memcpy(p->run_id, out.run_id, sizeof p->run_id);
  if (rc == 0 && g != GROW_RETRIES) {
    if ((rc = cairn_engine_work(e, CAIRN_WORK_DRAIN, NULL)) != 0)
      rc = engine_fail(e, "working until the wait", rc);
    for (uint32_t k = 0; k < p->extra && rc == 0; k++)
      if ((rc = cairn_engine_signal(e, p->run_id, "noise", NULL, NULL,
                                    NULL)) != 0)
        rc = engine_fail(e, "signalling a parent", rc);
    if (rc == 0 &&
        (rc = cairn_engine_signal(e, p->run_id, "go", NULL, NULL, NULL)) != 0)
      rc = engine_fail(e, "signalling a parent", rc);
  }
  if (rc == 0 && (rc = cairn_engine_work(e, CAIRN_WORK_RUN, p->run_id)) != 0)
    rc = engine_fail(e, "working a parent", rc);
  p->build_s = bench_now_s() - t0;
  if (rc == 0)
    rc = run_state(e, p->run_id, &status, &p->events);
  cairn_engine_close(e);
  if (rc)
    return rc;
  if (status != CAIRN_RUN_COMPLETED) {
    fprintf(stderr, "bench_fork: parent %s ended %s, not completed\n",
            name, cairn_run_status_name(status));
    return -1;
  }
  /* The reset's new run: run.started, a step.reused per kept step, and
   * the signals received after the point (the noise and "go"). */
  p->want_new_events = 1 + RESET_INDEX +
                       (g == GROW_SIGNALS_AFTER ? p->extra + 1 : 0);
  if (g == GROW_RETRIES)
    printf("  %-5s %7u events: %u failed attempts over s%d..s%d, built in "
           "%.2f s\n", size_names[i], p->events, p->extra, FLAKY_FIRST,
           FLAKY_LAST, p->build_s);
  else
    printf("  %-5s %7u events: %u signals to s%d before go, built in "
           "%.2f s\n", size_names[i], p->events, p->extra,
           g == GROW_SIGNALS_BEFORE ? WAIT_BEFORE : WAIT_AFTER, p->build_s);
  fflush(stdout);
  return 0;
}

/* ------------------------------------------------------------- resets */

static int reset_once(cairn_engine *e, parent *p, bool count, bool check) {
  cairn_fork_request req = {.kind = CAIRN_FORK_RESET, .id = p->run_id,
                            .step = RESET_STEP, .reason = "bench",
                            .execute = false};
  cairn_fork_result out;
  double c0 = bench_cpu_s(), t0 = bench_now_s();
  int rc = cairn_engine_fork(e, &req, &out);
  double t = bench_now_s() - t0, c = bench_cpu_s() - c0;
  if (rc)
    return engine_fail(e, "resetting a parent", rc);
  if (check) {
    int status;
    if (run_state(e, out.run_id, &status, &p->new_events) != 0) {
      cairn_fork_result_free(&out);
      return -1;
    }
  }
  cairn_fork_result_free(&out);
  if (count) {
    p->wall_us[p->n] = t * 1e6;
    p->cpu_us[p->n] = c * 1e6;
    p->n++;
  }
  return 0;
}

typedef struct audit_count {
  int64_t since_us;
  uint64_t n;
} audit_count;

static int on_audit(void *ctx, const cairn_audit_record *a) {
  audit_count *c = ctx;
  if (a->time_us < c->since_us)
    return 1;
  c->n++;
  return 0;
}

/* The audit records of the last minute, read newest first as the fork's
 * rate limit reads them. */
static void audit_scan(cairn_engine *e, parent *p) {
  cairn_reader *r;
  audit_count c = {bench_wall_us() - 60 * 1000000LL, 0};
  if (cairn_reader_begin(cairn_engine_journal(e), &r) != 0)
    return;
  double t0 = bench_now_s();
  cairn_reader_audit_backwards(r, 0, on_audit, &c);
  p->audit_scan_us = (bench_now_s() - t0) * 1e6;
  p->audit_records = c.n;
  cairn_reader_end(r);
}

/* Reopens every parent's home with a durable engine (all open at once)
 * and resets the parents round after round. */
static int measure(char homes[N_SIZES][4096], scenario *s,
                   const config *cfg) {
  cairn_engine *e[N_SIZES] = {0};
  int rc = 0;
  for (size_t i = 0; i < N_SIZES && rc == 0; i++) {
    parent *p = &s->p[i];
    if (!p->used)
      continue;
    p->wall_us = calloc((size_t)cfg->repeats, sizeof *p->wall_us);
    p->cpu_us = calloc((size_t)cfg->repeats, sizeof *p->cpu_us);
    if (p->wall_us == NULL || p->cpu_us == NULL ||
        (e[i] = engine_open(homes[i], false)) == NULL)
      rc = -1;
  }
  int repeats = s->g == GROW_SIGNALS_AFTER && cfg->repeats > AFTER_REPEATS
                    ? AFTER_REPEATS : cfg->repeats;
  /* Round 0 is the warm-up (and the check of the new run). */
  for (int round = 0; round <= repeats && rc == 0; round++)
    for (size_t k = 0; k < N_SIZES && rc == 0; k++) {
      size_t i = (k + (size_t)round) % N_SIZES;
      if (s->p[i].used)
        rc = reset_once(e[i], &s->p[i], round > 0, round == 0);
    }
  for (size_t i = 0; i < N_SIZES; i++) {
    if (e[i] && rc == 0)
      audit_scan(e[i], &s->p[i]);
    cairn_engine_close(e[i]);
  }
  for (size_t i = 0; i < N_SIZES && rc == 0; i++) {
    parent *p = &s->p[i];
    if (!p->used)
      continue;
    if (p->new_events != p->want_new_events) {
      fprintf(stderr, "bench_fork: a reset of %s at %s made a run of %u "
              "events, not %u\n", p->run_id, RESET_STEP, p->new_events,
              p->want_new_events);
      return -1;
    }
    p->p50_us = median(p->wall_us, p->n);
    p->cpu_p50_us = median(p->cpu_us, p->n);
    p->min_us = p->max_us = p->wall_us[0];
    for (int k = 1; k < p->n; k++) {
      p->min_us = fmin(p->min_us, p->wall_us[k]);
      p->max_us = fmax(p->max_us, p->wall_us[k]);
    }
  }
  return rc;
}

static int run_scenario(const char *dir, scenario *s, const config *cfg) {
  char homes[N_SIZES][4096], name[64];
  printf("\n%s: parents of %d steps, each in its own home, built with "
         "no_sync\n", grow_names[s->g], STEPS);
  for (size_t i = 0; i < N_SIZES; i++) {
    if (sizes[i] > (s->g == GROW_SIGNALS_AFTER ? AFTER_MAX_EVENTS
                    : cfg->quick && s->g != GROW_RETRIES ? 10000
                                                         : sizes[i]))
      continue;
    snprintf(name, sizeof name, "%s-%s", grow_names[s->g], size_names[i]);
    if (bench_subdir(homes[i], sizeof homes[i], dir, name) != 0 ||
        build_parent(homes[i], s->g, i, &s->p[i]) != 0)
      return -1;
  }
  if (measure(homes, s, cfg) != 0)
    return -1;
  printf("  durable resets at %s, execute = false: median of %d (after "
         "1 warm-up); audit: the home's records of the last minute and "
         "the time to read them\n", RESET_STEP, s->p[0].n);
  printf("  %-5s %7s %12s %10s %10s %10s %9s %8s %10s\n", "size", "events",
         "reset p50", "min", "max", "CPU p50", "new run", "audit",
         "audit read");
  for (size_t i = 0; i < N_SIZES; i++) {
    const parent *p = &s->p[i];
    if (!p->used)
      continue;
    printf("  %-5s %7u %9.0f us %7.0f us %7.0f us %7.0f us %9u %8llu "
           "%7.0f us\n", size_names[i], p->events, p->p50_us, p->min_us,
           p->max_us, p->cpu_p50_us, p->new_events,
           (unsigned long long)p->audit_records, p->audit_scan_us);
  }
  const parent *lo = &s->p[0], *hi = &s->p[N_SIZES - 1];
  if (lo->used && hi->used) {
    double ratio = hi->p50_us / lo->p50_us;
    double cratio = hi->cpu_p50_us / lo->cpu_p50_us;
    if (s->g == GROW_SIGNALS_AFTER)
      printf("  ratio 100k/1k: %.2f wall, %.2f CPU (expected to grow: the "
             "reset re-delivers every signal after the point)\n", ratio,
             cratio);
    else
      printf("  ratio 100k/1k: %.2f wall, %.2f CPU (target <= %.1f) %s\n",
             ratio, cratio, TARGET_RATIO,
             ratio <= TARGET_RATIO ? "ok" : "MISSED");
  }
  if (s->g == GROW_SIGNALS_AFTER)
    printf("  (no 100k parent: each reset would write 100k events)\n");
  fflush(stdout);
  return 0;
}

/* ---------------------------------------------------------------- main */



static void scenario_free(scenario *s) {
  for (size_t i = 0; i < N_SIZES; i++) {
    free(s->p[i].wall_us);
    free(s->p[i].cpu_us);
  }
}

/* ------------------------------------------------------ stale assets */

/* One run of workflow `wf` whose step "make" materializes keys
 * PREFIX0 .. PREFIX(n-1), each built from upstream "upstream/raw". */
static int asset_run(cairn_journal *j, const char *wf, const char *prefix,
                     size_t n, int64_t t_us) {
  static const char def[] =
      "0000000000000000000000000000000000000000000000000000000000000001";
  static const char up_hash[] =
      "1111111111111111111111111111111111111111111111111111111111111111";
  char id[37], meta[200];
  cairn_batch *b = NULL;
  cairn_run_spec spec = {.workflow_id = wf, .def_hash = def};
  cairn_event *ev = calloc(n + 2, sizeof *ev);
  char (*keys)[64] = calloc(n, sizeof *keys);
  char (*hashes)[65] = calloc(n, sizeof *hashes);
  int rc = ev && keys && hashes ? cairn_batch_new(j, &b) : CAIRN_ENOMEM;
  if (rc == 0 && (rc = cairn_batch_create_run(b, &spec, id)) == 0) {
    snprintf(meta, sizeof meta, "{\"source\":\"value\",\"upstream\":"
             "[{\"key\":\"upstream/raw\",\"hash\":\"%s\"}]}", up_hash);
    ev[0] = (cairn_event){.type = CAIRN_EV_STEP_STARTED,
                          .step = {"make", 4}, .attempt = 1};
    ev[1] = (cairn_event){.type = CAIRN_EV_STEP_COMPLETED,
                          .step = {"make", 4}, .attempt = 1,
                          .output = {"null", 4}};
    for (size_t i = 0; i < n; i++) {
      snprintf(keys[i], sizeof keys[i], "%s%zu", prefix, i);
      snprintf(hashes[i], sizeof hashes[i], "%064zx", i + (size_t)t_us);
      ev[i + 2] = (cairn_event){
          .type = CAIRN_EV_ASSET_MATERIALIZED, .step = {"make", 4},
          .attempt = 1, .time_us = t_us,
          .asset_key = {keys[i], strlen(keys[i])},
          .content_hash = {hashes[i], 64}, .size_bytes = 100,
          .meta = {meta, strlen(meta)}};
    }
    rc = cairn_batch_append(b, id, ev, n + 2);
    if (rc >= 0)
      rc = cairn_batch_commit(b);
  }
  if (rc && rc != CAIRN_ENOMEM)
    fprintf(stderr, "bench_fork: writing assets: %s\n",
            cairn_journal_errmsg(j));
  cairn_batch_free(b);
  free(ev);
  free(keys);
  free(hashes);
  return rc < 0 ? rc : 0;
}

/* The median µs of cairn_run_stale_assets on the replayed run of a
 * journal whose catalogue holds `entries` entries. */
static int stale_check(const char *dir, size_t entries, double *p50_us,
                       size_t *n_stale) {
  char home[4200];
  snprintf(home, sizeof home, "%.4096s/stale-%zu", dir, entries);
  cairn_journal *j;
  char err[512];
  cairn_journal_options o = {.no_sync = true};
  int rc = cairn_journal_open(home, &o, &j, err, sizeof err);
  if (rc) {
    fprintf(stderr, "bench_fork: %s\n", err);
    return rc;
  }
  int64_t t = bench_wall_us() - 10 * 1000000;
  rc = asset_run(j, "replayed", "out/", STALE_ASSETS, t);
  if (rc == 0)
    rc = asset_run(j, "newer", "out/", STALE_NEWER, t + 1000);
  for (size_t f = 0; rc == 0 && f + STALE_ASSETS < entries; f += 1000) {
    char wf[32], prefix[32];
    snprintf(wf, sizeof wf, "filler-%zu", f);
    snprintf(prefix, sizeof prefix, "filler/%zu/", f);
    rc = asset_run(j, wf, prefix, 1000, t + 2000 + (int64_t)f);
  }
  double v[STALE_REPEATS];
  cairn_reader *r;
  cairn_workflow_info wi;
  uint64_t key = 0;
  if (rc == 0 && (rc = cairn_reader_begin(j, &r)) == 0) {
    if ((rc = cairn_reader_workflow(r, NULL, "replayed", &wi)) == 0)
      key = wi.current;
    cairn_reader_end(r);
  }
  for (int i = 0; rc == 0 && i < STALE_REPEATS; i++) {
    char *json = NULL;
    double t0 = bench_now_s();
    if ((rc = cairn_reader_begin(j, &r)) != 0)
      break;
    rc = cairn_run_stale_assets(r, key, 0, &json, n_stale);
    cairn_reader_end(r);
    v[i] = (bench_now_s() - t0) * 1e6;
    free(json);
  }
  if (rc == 0)
    *p50_us = median(v, STALE_REPEATS);
  cairn_journal_close(j);
  return rc;
}

static int parse_args(int argc, char **argv, config *cfg) {
  *cfg = (config){.repeats = REPEATS};
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") != 0) {
      fprintf(stderr, "usage: bench_fork [--quick]\n");
      return -1;
    }
    *cfg = (config){.quick = true, .repeats = REPEATS_QUICK};
  }
  return 0;
}

int main(int argc, char **argv) {
  config cfg;
  scenario sc[N_GROW];
  char dir[4096];
  const char *tmp = getenv("TMPDIR");
  if (parse_args(argc, argv, &cfg) != 0)
    return 2;
  snprintf(dir, sizeof dir, "%s/cairn-bench-XXXXXX", tmp ? tmp : "/tmp");
  if (mkdtemp(dir) == NULL) {
    fprintf(stderr, "bench_fork: mkdtemp %s: %s\n", dir, strerror(errno));
    return 1;
  }
  printf("cairn fork benchmark in %s (reset at %s of %d steps, durable "
         "commits)\n", dir, RESET_STEP, STEPS);
  fflush(stdout);
  double t0 = bench_now_s();
  int rc = 0;
  memset(sc, 0, sizeof sc);
  for (int g = 0; g < N_GROW && rc == 0; g++) {
    sc[g].g = (grow)g;
    rc = run_scenario(dir, &sc[g], &cfg);
  }
  double stale_us[2] = {0, 0};
  size_t n_stale[2] = {0, 0};
  static const size_t catalogue[2] = {1000, 100000};
  if (rc == 0)
    printf("\nstale-asset check of a replay: a run of %d assets, %d of "
           "them superseded\n", STALE_ASSETS, STALE_NEWER);
  for (int i = 0; i < 2 && rc == 0; i++) {
    rc = stale_check(dir, catalogue[i], &stale_us[i], &n_stale[i]);
    if (rc == 0)
      printf("  catalogue %6zu entries: p50 %8.0f us  (%zu stale found)\n",
             catalogue[i], stale_us[i],
             n_stale[i]);
  }
  if (rc == 0)
    printf("  100k / 1k: %.2f\n", stale_us[1] / stale_us[0]);
  bench_remove_tree(dir);
  if (rc == 0) {
    printf("\ntotal %.1f s\n", bench_now_s() - t0);
    const scenario *r = &sc[GROW_RETRIES];
    printf("RESULT bench=fork reset_us_1k=%.0f reset_us_10k=%.0f "
           "reset_us_100k=%.0f replay_stale_check_us_1k=%.0f "
           "replay_stale_check_us_100k=%.0f\n", r->p[0].p50_us,
           r->p[1].p50_us, r->p[2].p50_us, stale_us[0], stale_us[1]);
  }
  for (int g = 0; g < N_GROW; g++)
    scenario_free(&sc[g]);
  return rc ? 1 : 0;
}
