/*
 * bench/workflows.c — the peers' workload on cairn, end to end
 * (`bench_workflows`; bench/peers.sh puts its figures beside Restate's and
 * DBOS's, measured in the same sitting).
 *
 * The workload of shared/peers: a workflow is K = 10 durable no-op steps
 * one after another. Phases, in this order and each closed-loop (a new
 * workflow starts when one ends):
 *   warm-up   100 one after another, then 100 with 32 in flight;
 *   seq       LAT_N = 200 one after another: the latency of each
 *             (p50, p99) from its start request to its end being durable;
 *   c32       TP_N = 2,000 with 32 in flight: workflows and steps per
 *             second over the phase, and the latency of each under load;
 *   c256      the same with 256 in flight.
 * (--quick divides every count by ten, for a smoke run.)
 * The RESULT line carries inline=0|1.
 *
 * cairn as an embedder runs it, like DBOS's in-process library: one
 * process, one engine on an LMDB journal in a fresh directory under
 * $TMPDIR (default /tmp), commits durable (fsync'd group commit: the
 * default; no_sync is off). The steps are native steps of kind "noop"
 * (cairn_engine_register_kind; they run on libuv's thread pool and
 * return null). A workflow is started with cairn_engine_start_async
 * (execute = true: its run.started commits in the next loop turn's
 * batch) and executed by the same engine in CAIRN_WORK_FOREVER mode.
 * Its latency runs from that call until the observer (which sees a
 * transition after its commit is durable) sees the last step complete;
 * the engine folds that completion and appends run.completed in the same
 * turn, so they are one transaction and the workflow is finished then.
 * Every workflow's final run status is checked in the journal afterwards
 * (all completed), so a figure never counts work that did not happen.
 *
 * Prints a table (with the process's CPU time per workflow, every thread
 * of the one process that is client, engine and steps, and the bytes it
 * had written to storage per workflow), then
 *   RESULT bench=workflows k=10 seq_p50_ms=.. seq_p99_ms=..
 *     seq_steps_per_s=.. c32_wf_per_s=.. c32_steps_per_s=.. c32_p50_ms=..
 *     c32_p99_ms=.. c256_wf_per_s=.. c256_steps_per_s=.. c256_p50_ms=..
 *     c256_p99_ms=.. c32_cpu_ms_per_wf=..
 */
#include "bench_util.h"
#include <cairn/cairn.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>
#include <uv.h>

#define K 10
#define MAX_CONC 256

typedef struct phase {
  const char *name;
  size_t n;       /* workflows */
  size_t conc;    /* in flight */
  bool report;    /* a measured phase (warm-up is not) */
  /* measured */
  double t0, t1;
  double cpu0, cpu1; /* process CPU seconds (every thread) */
  double io0, io1;   /* bytes this process had written (/proc/self/io) */
  double *lat_ms; /* n latencies */
} phase;

/* A workflow in flight, by run id (known once its start is durable). */
typedef struct bench bench;
typedef struct flight {
  char run_id[CAIRN_RUN_ID_LEN + 1];
  double t0;
  bench *b;
  UT_hash_handle hh;
} flight;

struct bench {
  cairn_engine *e;
  phase *phases;
  size_t n_phases, cur;
  size_t launched, done; /* of the current phase */
  flight *by_run;        /* uthash */
  char (*run_ids)[CAIRN_RUN_ID_LEN + 1]; /* every workflow, to check */
  size_t n_runs, cap_runs;
  uv_timer_t kick;
  char error[512];
};

static void noop_fn(void *ctx, const cairn_native_call *call,
                    cairn_native_result *res) {
  (void)ctx;
  (void)call;
  res->output = NULL;
}

/* Bytes this process caused to be written to storage (write_bytes of
 * /proc/self/io: pages of data.mdb written back at each commit's fsync);
 * 0 where unreadable. */
static double io_written(void) {
  FILE *f = fopen("/proc/self/io", "r");
  char line[128];
  double v = 0;
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, "write_bytes:", 12) == 0)
      v = strtod(line + 12, NULL);
  if (f)
    fclose(f);
  return v;
}

static void fail(bench *b, const char *fmt, const char *what) {
  if (b->error[0] == '\0')
    snprintf(b->error, sizeof b->error, fmt, what);
  cairn_engine_stop(b->e);
}

static void launch(bench *b);

static void on_started(void *ctx, int rc, const cairn_start_result *res,
                       const char *errmsg) {
  flight *f = ctx;
  bench *b = f->b;
  if (rc != 0) {
    free(f);
    fail(b, "starting a workflow: %s", errmsg ? errmsg : "failed");
    return;
  }
  memcpy(f->run_id, res->run_id, sizeof f->run_id);
  HASH_ADD_STR(b->by_run, run_id, f);
  if (b->n_runs == b->cap_runs) {
    size_t cap = b->cap_runs ? 2 * b->cap_runs : 4096;
    void *p = realloc(b->run_ids, cap * sizeof *b->run_ids);
    if (p == NULL) {
      fail(b, "%s", "out of memory");
      return;
    }
    b->run_ids = p;
    b->cap_runs = cap;
  }
  memcpy(b->run_ids[b->n_runs++], res->run_id, CAIRN_RUN_ID_LEN + 1);
}

/* Starts one workflow of the current phase. */
static void launch(bench *b) {
  phase *p = &b->phases[b->cur];
  flight *f = calloc(1, sizeof *f);
  if (f == NULL) {
    fail(b, "%s", "out of memory");
    return;
  }
  f->t0 = bench_now_s();
  f->b = b;
  cairn_start_request req = {.name = "bench_wf", .input = "{\"k\":10}",
                             .execute = true, .actor = "bench"};
  int rc = cairn_engine_start_async(b->e, &req, on_started, f);
  if (rc != 0) {
    free(f);
    fail(b, "starting a workflow: %s", cairn_engine_errmsg(b->e));
    return;
  }
  if (b->launched++ == 0) {
    p->t0 = f->t0;
    p->cpu0 = bench_cpu_s();
    p->io0 = io_written();
  }
}

/* Fills the current phase up to its concurrency. */
static void fill(bench *b) {
  phase *p = &b->phases[b->cur];
  while (b->launched < p->n && b->launched - b->done < p->conc &&
         b->error[0] == '\0')
    launch(b);
}

static void on_kick(uv_timer_t *t) { fill(t->data); }

static void on_note(void *ctx, const cairn_step_note *n) {
  bench *b = ctx;
  if (n->status == CAIRN_STEP_FAILED) {
    fail(b, "a step failed: %s", n->error ? n->error : "");
    return;
  }
  if (n->status != CAIRN_STEP_COMPLETED || strcmp(n->step, "s10") != 0)
    return;
  double now = bench_now_s();
  flight *f = NULL;
  HASH_FIND_STR(b->by_run, n->run_id, f);
  if (f == NULL) {
    fail(b, "run %s ended before its start was reported", n->run_id);
    return;
  }
  HASH_DEL(b->by_run, f);
  phase *p = &b->phases[b->cur];
  p->lat_ms[b->done++] = (now - f->t0) * 1e3;
  free(f);
  if (b->done < p->n) {
    fill(b);
    return;
  }
  p->t1 = now;
  p->cpu1 = bench_cpu_s();
  p->io1 = io_written();
  b->launched = b->done = 0;
  if (++b->cur == b->n_phases) {
    cairn_engine_stop(b->e);
    return;
  }
  fill(b);
}


/* {"name":"bench_wf","steps":[{"name":"s1","kind":"noop"},
 *  {"name":"s2","kind":"noop","needs":["s1"]}, ...]} */
static int register_def(cairn_engine *e) {
  char def[2048], *p = def;
  p += sprintf(p, "{\"name\":\"bench_wf\",\"steps\":[");
  for (int i = 1; i <= K; i++) {
    p += sprintf(p, "%s{\"name\":\"s%d\",\"kind\":\"noop\"", i > 1 ? "," : "",
                 i);
    if (i > 1)
      p += sprintf(p, ",\"needs\":[\"s%d\"]", i - 1);
    p += sprintf(p, "}");
  }
  sprintf(p, "]}");
  int rc = cairn_engine_register(e, def, strlen(def), NULL, NULL, NULL);
  if (rc)
    fprintf(stderr, "bench_workflows: registering the definition: %s\n",
            cairn_engine_errmsg(e));
  return rc;
}

/* Every workflow started must have completed: read back from the journal. */
static int check_runs(bench *b) {
  cairn_journal *j = cairn_engine_journal(b->e);
  cairn_reader *r = NULL;
  int rc = cairn_reader_begin(j, &r);
  if (rc) {
    fprintf(stderr, "bench_workflows: reading the journal: %s\n",
            cairn_strerror(rc));
    return -1;
  }
  size_t bad = 0;
  for (size_t i = 0; i < b->n_runs; i++) {
    cairn_run_info rec;
    if (cairn_reader_run_by_id(r, b->run_ids[i], &rec) != 0 ||
        rec.status != CAIRN_RUN_COMPLETED)
      bad++;
  }
  cairn_reader_end(r);
  if (bad) {
    fprintf(stderr, "bench_workflows: %zu of %zu workflows did not complete\n",
            bad, b->n_runs);
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  int div = 1;
  bool on_loop = false;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0)
      div = 10;
    else if (strcmp(argv[i], "--inline") == 0)
      on_loop = true;
    else {
      fprintf(stderr, "usage: bench_workflows [--quick] [--inline]\n");
      return 2;
    }
  }
  phase phases[] = {
      {.name = "warm-up seq", .n = 100 / div, .conc = 1},
      {.name = "warm-up 32", .n = 100 / div, .conc = 32},
      {.name = "seq", .n = 200 / div, .conc = 1, .report = true},
      {.name = "c32", .n = 2000 / div, .conc = 32, .report = true},
      {.name = "c256", .n = 2000 / div, .conc = 256, .report = true},
  };
  size_t n_phases = sizeof phases / sizeof phases[0];
  for (size_t i = 0; i < n_phases; i++) {
    phases[i].lat_ms = calloc(phases[i].n, sizeof(double));
    if (phases[i].lat_ms == NULL)
      return 1;
  }

  const char *tmp = getenv("TMPDIR");
  char home[4096];
  snprintf(home, sizeof home, "%s/cairn-bench-wf.XXXXXX",
           tmp && *tmp ? tmp : "/tmp");
  if (mkdtemp(home) == NULL) {
    perror("bench_workflows: mkdtemp");
    return 1;
  }
  cairn_engine_options o = {.home = home, .no_sync = false,
                            .max_runs = 2 * MAX_CONC};
  cairn_engine *e = NULL;
  char err[512] = "";
  int rc = cairn_engine_open(&o, &e, err, sizeof err);
  if (rc) {
    fprintf(stderr, "bench_workflows: opening an engine on %s: %s\n", home,
            *err ? err : cairn_strerror(rc));
    bench_remove_tree(home);
    return 1;
  }
  bench b = {.e = e, .phases = phases, .n_phases = n_phases};
  rc = on_loop ? cairn_engine_register_kind_inline(e, "noop", noop_fn, NULL)
               : cairn_engine_register_kind(e, "noop", noop_fn, NULL);
  printf("noop steps on %s\n", on_loop ? "the loop thread (inline)"
                                       : "libuv's thread pool");
  if (rc == 0)
    rc = register_def(e);
  if (rc == 0) {
    cairn_engine_observe(e, on_note, &b);
    uv_timer_init(cairn_engine_loop(e), &b.kick);
    b.kick.data = &b;
    uv_timer_start(&b.kick, on_kick, 0, 0);
    double t0 = bench_now_s();
    rc = cairn_engine_work(e, CAIRN_WORK_FOREVER, NULL);
    if (rc)
      fprintf(stderr, "bench_workflows: working: %s\n",
              cairn_engine_errmsg(e));
    uv_close((uv_handle_t *)&b.kick, NULL);
    printf("%zu workflows of %d steps in %.1f s\n",
           (size_t)(100 / div * 2 + 200 / div + 4000 / div), K,
           bench_now_s() - t0);
  }
  if (rc == 0 && b.error[0]) {
    fprintf(stderr, "bench_workflows: %s\n", b.error);
    rc = -1;
  }
  if (rc == 0 && b.cur != n_phases) {
    fprintf(stderr, "bench_workflows: stopped in phase %s\n",
            phases[b.cur].name);
    rc = -1;
  }
  if (rc == 0)
    rc = check_runs(&b);

  /* seq, c32, c256: wf/s, steps/s, p50, p99, CPU ms and KiB written per
   * workflow */
  double r[3][6] = {{0}};
  if (rc == 0) {
    printf("%-6s %6s %5s %9s %10s %8s %8s %8s %10s %9s\n", "phase", "wfs",
           "conc", "wf/s", "steps/s", "p50 ms", "p99 ms", "max ms",
           "cpu ms/wf", "KiB/wf");
    for (size_t i = 0, k = 0; i < n_phases; i++) {
      phase *p = &phases[i];
      if (!p->report)
        continue;
      double secs = p->t1 - p->t0;
      r[k][0] = (double)p->n / secs;
      r[k][1] = (double)(p->n * K) / secs;
      r[k][2] = bench_percentile(p->lat_ms, p->n, 0.50);
      r[k][3] = bench_percentile(p->lat_ms, p->n, 0.99);
      r[k][4] = (p->cpu1 - p->cpu0) * 1e3 / (double)p->n;
      r[k][5] = (p->io1 - p->io0) / 1024.0 / (double)p->n;
      printf("%-6s %6zu %5zu %9.1f %10.1f %8.3f %8.3f %8.3f %10.3f %9.1f\n",
             p->name, p->n, p->conc, r[k][0], r[k][1], r[k][2], r[k][3],
             p->lat_ms[p->n - 1], r[k][4], r[k][5]);
      k++;
    }
    printf("RESULT bench=workflows k=%d inline=%d seq_p50_ms=%.3f seq_p99_ms=%.3f "
           "seq_steps_per_s=%.1f c32_wf_per_s=%.1f c32_steps_per_s=%.1f "
           "c32_p50_ms=%.3f c32_p99_ms=%.3f c256_wf_per_s=%.1f "
           "c256_steps_per_s=%.1f c256_p50_ms=%.3f c256_p99_ms=%.3f "
           "c32_cpu_ms_per_wf=%.3f\n",
           K, on_loop, r[0][2], r[0][3], r[0][1], r[1][0], r[1][1], r[1][2], r[1][3],
           r[2][0], r[2][1], r[2][2], r[2][3], r[1][4]);
  }
  flight *f, *tmpf;
  HASH_ITER(hh, b.by_run, f, tmpf) {
    HASH_DEL(b.by_run, f);
    free(f);
  }
  free(b.run_ids);
  cairn_engine_close(e);
  bench_remove_tree(home);
  for (size_t i = 0; i < n_phases; i++)
    free(phases[i].lat_ms);
  return rc == 0 ? 0 : 1;
}
