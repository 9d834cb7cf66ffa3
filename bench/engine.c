/*
 * engine.c — the engine benchmark: what a durable step costs next to one
 * durable commit, how many steps per second many runs reach, what a run in
 * flight weighs, how many journal bytes a step leaves, and how long a fresh
 * worker takes to recover ten thousand interrupted runs.
 *
 *   bench_engine [--quick]
 *
 * Everything happens in a fresh directory under $TMPDIR (default /tmp),
 * removed at exit: one journal home per phase (rss, seq, commit, tput,
 * recover) and one scratch file, all on the same file system, so that the
 * phases do not see each other's runs. Every commit is durable (no_sync =
 * false). The figures are only meaningful on a real disk: on a tmpfs an
 * fsync costs nothing. The steps are native steps of kind "noop", whose
 * function returns output NULL (JSON null) at once; definitions chain them
 * (no "needs": each step waits for the one before it).
 *
 * Phases, in the order they run.
 *  1. rss: resident memory per run in flight. RSS_RUNS runs of a
 *     definition whose first step is a `wait` for signal "go" (then one
 *     noop step, never reached) are started with execute = true; then
 *     cairn_engine_work(CAIRN_WORK_FOREVER) claims and loads them all in
 *     its first tick (max_runs = RSS_RUNS), records every wait step's
 *     step.started in one commit, and idles. A sampler thread waits until
 *     the observer has seen every step.started (every run is loaded, its
 *     wait step WAITING, nothing else to do), lets the loop idle for
 *     SETTLE_MS, reads /proc/self/statm, and calls cairn_engine_stop.
 *     DRAIN does not fit: it releases the runs as soon as a tick finds
 *     them all blocked (and while room is left under max_runs it never
 *     finds that, because each tick's claim re-claims, and counts, runs
 *     the engine already holds). Figure: the growth of anonymous
 *     resident memory (statm resident - shared) from just before
 *     cairn_engine_work to the sample, divided by the runs. File-backed
 *     pages (LMDB's read-only map, i.e. the journal's page cache) are
 *     printed beside it but not counted: they are the journal's, shared
 *     with every process that reads it, and evictable. The phase runs
 *     first, in a heap nothing else has used yet, so that freed memory of
 *     other phases cannot hide growth; malloc's own count of bytes in use
 *     (mallinfo2) is printed as a cross-check, and so is the figure after
 *     malloc_trim(0) (memory malloc had freed but still held: the
 *     transient peak of loading every run at once). The figure counts
 *     that retained memory: it is resident, and the process holds it.
 *  2. seq: one run of SEQ_STEPS chained noop steps, executed with
 *     cairn_engine_work(CAIRN_WORK_RUN). Per-step latency is measured by
 *     the observer: cairn_engine_observe delivers a step's "completed"
 *     note right after the commit that made its step.completed durable, so
 *     the interval between consecutive completion notes (CLOCK_MONOTONIC)
 *     is one whole step: launching the step after the commit of its
 *     step.started, the thread-pool hop, the function, the return to the
 *     loop, and the one durable commit that holds this step's
 *     step.completed and the next step's step.started. SEQ_STEPS - 1
 *     intervals give p50 and p99. The same figure computed from the
 *     journal (consecutive step.completed time_us, stamped when the event
 *     is emitted, read back with cairn_reader_history) is printed as a
 *     cross-check; the observer's is used because it is monotonic and is
 *     taken after durability.
 *  3. commit: the fsync latency of the disk, measured through the journal
 *     API in its own journal beside the others: COMMITS commits of a batch
 *     of one event (a step.started or step.completed appended to one run,
 *     so the run's views are updated as the engine's are), timed from
 *     cairn_batch_new to cairn_batch_free; half of them just before the
 *     seq run and half just after, so that drift hits both. commit_p50 is
 *     their median; seq_ratio = seq_step_p50 / commit_p50 (one sequential
 *     step costs one commit plus the engine's own work). The median of a
 *     bare 64-byte pwrite + fdatasync on a file in the same directory is
 *     printed for reference.
 *  4. tput: steps per second with 1, 16 and 256 runs in flight. A round
 *     starts N runs of TPUT_STEPS chained noop steps (cairn_engine_start,
 *     execute = true; not timed), then calls cairn_engine_work(DRAIN),
 *     which claims and runs them all. The observer calls cairn_engine_stop
 *     when the round's last step completion is durable, so work returns
 *     at once instead of at DRAIN's next 50 ms tick (an idle-detection
 *     delay of the harness, not work the engine does). Figure: the steps
 *     of all rounds divided by the summed wall time of the
 *     cairn_engine_work calls (claim, load, every step, every commit).
 *     Rounds repeat until the timed total reaches TPUT_SECONDS. The
 *     spread of per-round rates is printed beside it: with many runs the
 *     loop thread is CPU-bound, so other processes on the machine show.
 *  5. bytes per step: cairn_journal_stats_get's used_bytes (every page in
 *     use: events, views, indexes, LMDB's free pages) after a phase minus
 *     before, divided by the steps the phase ran. The RESULT line takes
 *     the tput phase: runs of 10 steps, so each step also carries a tenth
 *     of its run's fixed cost (run.started, run.completed, run record,
 *     indexes, workflow, audit record). The seq run's figure, where that
 *     cost is spread over SEQ_STEPS steps, is printed beside it.
 *  6. recover: RECOVER_RUNS interrupted runs, each of one step. A child
 *     process (this program, exec'd with --interrupted-child) starts them
 *     with execute = true and works them with a step function that blocks
 *     forever; when its observer has seen every step.started (durable),
 *     it says so on a pipe and the parent kills it with SIGKILL and reaps
 *     it. Every run is then RUNNING with attempt 1 started and never
 *     finished, and leased to a dead process. A fresh engine in the parent
 *     (max_runs = RECOVER_RUNS, the noop function registered under the
 *     same kind name) calls cairn_engine_work(DRAIN); its observer stops
 *     the engine at the last completion. recover_10k_ms is the time
 *     from that call until the observer has seen the last run's step
 *     complete: every run claimed (its dead owner detected), loaded
 *     (history folded), scheduled, its interrupted step re-run as attempt
 *     2, and that step.completed and the run.completed durable. The time
 *     until every attempt 2 is started (durable step.started) is printed
 *     too, as is the engine's open time (not counted).
 *
 * Targets are printed next to the figures; a benchmark never fails on
 * them. The last line is machine-readable (see print_result). --quick
 * shrinks every phase so a smoke test finishes in a few seconds (its
 * recover figure is for 1,000 runs, not 10,000).
 */
#include "bench_util.h"
#include <cairn/cairn.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SEQ_STEPS 1000
#define TPUT_STEPS 10
#define RSS_RUNS 10000
#define RECOVER_RUNS 10000
#define COMMITS 1000
#define TPUT_SECONDS 1.5
/* Idle time between "all runs in flight" and the RSS sample. */
#define SETTLE_MS 300
/* Give up on a phase that has not finished after this long. */
#define PHASE_TIMEOUT_S 120

/* Targets (printed, never enforced). */
#define TARGET_SEQ_RATIO 1.5
#define TARGET_STEPS_PER_S_C256 40000.0
#define TARGET_RECOVER_MS 2000.0
#define TARGET_KIB_PER_RUN 16.0
#define TARGET_BYTES_PER_STEP 1024.0

static const size_t concurrency[] = {1, 16, 256};
#define N_CONC (sizeof concurrency / sizeof concurrency[0])

/* Any valid SHA-256 text: the commit journal does not need the snapshot. */
static const char dummy_hash[] =
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

typedef struct config {
  bool quick;
  uint32_t seq_steps;
  uint32_t commits;
  double tput_seconds;
  uint32_t rss_runs;
  uint32_t recover_runs;
} config;

typedef struct results {
  double rss_kib_per_run;     /* anonymous resident KiB per run */
  double rss_total_kib;       /* resident (anon + file) KiB per run */
  double seq_p50_us, seq_p99_us;
  double seq_journal_p50_us, seq_journal_p99_us;
  double seq_cpu_us;          /* process CPU per sequential step */
  double commit_p50_us, commit_p99_us;
  double fsync_p50_us;
  double steps_per_s[N_CONC];
  double cpu_us_per_step[N_CONC];
  double bytes_per_step;      /* tput phase */
  double seq_bytes_per_step;  /* seq phase */
  double recover_ms;          /* all completed */
  double resume_ms;           /* all attempt 2 started */
  double recover_open_ms;
} results;

/* -------------------------------------------------------------- helpers */





/* out = dir/name; -1 when it does not fit. */

static int engine_fail(cairn_engine *e, const char *what, int rc) {
  fprintf(stderr, "bench_engine: %s: %s: %s\n", what, cairn_err_name(rc),
          e ? cairn_engine_errmsg(e) : "");
  return -1;
}

static int journal_fail(cairn_journal *j, const char *what, int rc) {
  fprintf(stderr, "bench_engine: %s: %s: %s\n", what, cairn_err_name(rc),
          cairn_journal_errmsg(j));
  return -1;
}

/* Resident memory from /proc/self/statm, in bytes. */
typedef struct mem {
  double resident; /* every resident page */
  double file;     /* resident and file-backed or shared ("shared") */
  double anon;     /* resident - file */
  double heap;     /* malloc's bytes in use (mallinfo2) */
} mem;

static mem mem_sample(void) {
  mem m = {0};
  unsigned long size = 0, res = 0, shared = 0;
  double page = (double)sysconf(_SC_PAGESIZE);
  FILE *f = fopen("/proc/self/statm", "r");
  if (f) {
    if (fscanf(f, "%lu %lu %lu", &size, &res, &shared) != 3)
      res = shared = 0;
    fclose(f);
  }
  struct mallinfo2 mi = mallinfo2();
  m.resident = (double)res * page;
  m.file = (double)shared * page;
  m.anon = m.resident - m.file;
  m.heap = (double)(mi.uordblks + mi.hblkhd);
  return m;
}

static double kib(double bytes) { return bytes / 1024.0; }

/* ---------------------------------------------------------- step kinds */

/* The no-op native step: output NULL means JSON null. */
static void noop_fn(void *ctx, const cairn_native_call *call,
                    cairn_native_result *res) {
  (void)ctx;
  (void)call;
  res->output = NULL;
}

/* The interrupted child's step: it never returns (the process is
 * killed). */
static void block_fn(void *ctx, const cairn_native_call *call,
                     cairn_native_result *res) {
  (void)ctx;
  (void)call;
  (void)res;
  for (;;)
    pause();
}

/* -------------------------------------------------------- definitions */

/* {"name": NAME, "steps": [{"name": "s1", "kind": KIND}, ...]}: n steps,
 * chained. Caller frees. */
static char *chain_def(const char *name, const char *kind, uint32_t n) {
  size_t cap = 64 + strlen(name) + (size_t)n * (40 + strlen(kind));
  char *s = malloc(cap), *p = s;
  if (s == NULL)
    return NULL;
  p += sprintf(p, "{\"name\":\"%s\",\"steps\":[", name);
  for (uint32_t i = 0; i < n; i++)
    p += sprintf(p, "%s{\"name\":\"s%u\",\"kind\":\"%s\"}", i ? "," : "",
                 i + 1, kind);
  strcpy(p, "]}");
  return s;
}

static const char wait_def[] =
    "{\"name\":\"bench_wait\",\"steps\":["
    "{\"name\":\"w\",\"kind\":\"wait\",\"with\":{\"signal\":\"go\"}},"
    "{\"name\":\"s2\",\"kind\":\"noop\"}]}";

static int register_def(cairn_engine *e, const char *json) {
  int rc = cairn_engine_register(e, json, strlen(json), NULL, NULL, NULL);
  return rc ? engine_fail(e, "registering a definition", rc) : 0;
}

/* ----------------------------------------------------------- observer */

/* What the observer saw. The counters are read by the RSS sampler
 * thread; everything else belongs to the loop thread. */
typedef struct watch {
  cairn_engine *e;
  _Atomic uint64_t running;  /* step.started notes */
  _Atomic uint64_t completed;
  uint64_t failed;
  uint64_t reruns;           /* running notes of attempt >= 2 */
  uint64_t want_running;     /* note the time when running reaches it */
  uint64_t stop_completed;   /* cairn_engine_stop at this many; 0 never */
  int notify_fd;             /* write a byte when running reaches want */
  double t_running, t_completed;
  mem mem_running;           /* sampled when running reaches want */
  bool sample_mem;
  bool record;               /* keep every completion time */
  bench_samples done_at;     /* completion times, when recording */
  char error[256];           /* the first failure */
} watch;

static void watch_reset(watch *w, cairn_engine *e) {
  free(w->done_at.v);
  memset(w, 0, sizeof *w);
  w->e = e;
  w->notify_fd = -1;
}


static void on_note(void *ctx, const cairn_step_note *n) {
  watch *w = ctx;
  double t = bench_now_s();
  if (n->status == CAIRN_STEP_RUNNING) {
    uint64_t r = atomic_fetch_add(&w->running, 1) + 1;
    w->reruns += n->attempt >= 2;
    if (r == w->want_running) {
      w->t_running = t;
      if (w->sample_mem)
        w->mem_running = mem_sample();
      if (w->notify_fd >= 0 && write(w->notify_fd, "r", 1) != 1)
        _exit(3);
    }
  }
  else if (n->status == CAIRN_STEP_COMPLETED) {
    uint64_t c = atomic_fetch_add(&w->completed, 1) + 1;
    if (w->record)
      bench_samples_add(&w->done_at, t);
    if (c == w->stop_completed) {
      w->t_completed = t;
      cairn_engine_stop(w->e);
    }
  }
  else if (n->status == CAIRN_STEP_FAILED) {
    if (w->failed++ == 0)
      snprintf(w->error, sizeof w->error, "step %s of run %s: %s", n->step,
               n->run_id, n->error ? n->error : "failed");
  }
}

/* ------------------------------------------------------------- engines */

static cairn_engine *engine_open(const char *home, size_t max_runs) {
  cairn_engine_options o = {.home = home, .no_sync = false,
                            .max_runs = max_runs};
  cairn_engine *e = NULL;
  char err[512] = "";
  int rc = cairn_engine_open(&o, &e, err, sizeof err);
  if (rc) {
    fprintf(stderr, "bench_engine: opening an engine on %s: %s\n", home,
            *err ? err : cairn_strerror(rc));
    return NULL;
  }
  return e;
}

static int start_runs(cairn_engine *e, const char *name, uint32_t n,
                      char run_id[CAIRN_RUN_ID_LEN + 1]) {
  cairn_start_request req = {.name = name, .execute = true,
                             .actor = "bench"};
  cairn_start_result out;
  for (uint32_t i = 0; i < n; i++) {
    int rc = cairn_engine_start(e, &req, &out);
    if (rc)
      return engine_fail(e, "starting a run", rc);
  }
  if (run_id)
    memcpy(run_id, out.run_id, CAIRN_RUN_ID_LEN + 1);
  return 0;
}

static int used_bytes(cairn_engine *e, uint64_t *out) {
  cairn_journal_stats st;
  int rc = cairn_journal_stats_get(cairn_engine_journal(e), &st);
  if (rc)
    return journal_fail(cairn_engine_journal(e), "journal stats", rc);
  *out = st.used_bytes;
  return 0;
}

static int check_failures(const watch *w) {
  if (w->failed == 0)
    return 0;
  fprintf(stderr, "bench_engine: %llu steps failed; first: %s\n",
          (unsigned long long)w->failed, w->error);
  return -1;
}

/* ------------------------------------------------------------ 1. rss */

typedef struct sampler {
  watch *w;
  uint64_t runs;
  mem settled;
  mem trimmed; /* after malloc_trim: what malloc held but had freed */
  bool ok;
} sampler;

static void *sampler_main(void *arg) {
  sampler *s = arg;
  double deadline = bench_now_s() + PHASE_TIMEOUT_S;
  while (atomic_load(&s->w->running) < s->runs && bench_now_s() < deadline)
    usleep(1000);
  if (atomic_load(&s->w->running) >= s->runs) {
    usleep(SETTLE_MS * 1000);
    s->settled = mem_sample();
    malloc_trim(0);
    s->trimmed = mem_sample();
    s->ok = true;
  }
  cairn_engine_stop(s->w->e);
  return NULL;
}

static int rss_measure(cairn_engine *e, watch *w, const config *cfg,
                       results *res) {
  sampler s = {.w = w, .runs = cfg->rss_runs};
  pthread_t th;
  double t0 = bench_now_s();
  if (start_runs(e, "bench_wait", cfg->rss_runs, NULL) != 0)
    return -1;
  double started = bench_now_s() - t0;
  w->want_running = cfg->rss_runs;
  w->sample_mem = true;
  mem before = mem_sample();
  if (pthread_create(&th, NULL, sampler_main, &s) != 0) {
    fprintf(stderr, "bench_engine: cannot start the sampler thread\n");
    return -1;
  }
  t0 = bench_now_s();
  int rc = cairn_engine_work(e, CAIRN_WORK_FOREVER, NULL);
  pthread_join(th, NULL);
  mem after = mem_sample();
  if (rc)
    return engine_fail(e, "working", rc);
  if (!s.ok) {
    fprintf(stderr, "bench_engine: only %llu of %u runs got in flight\n",
            (unsigned long long)atomic_load(&w->running), cfg->rss_runs);
    return -1;
  }
  double n = cfg->rss_runs;
  res->rss_kib_per_run = kib(s.settled.anon - before.anon) / n;
  res->rss_total_kib = kib(s.settled.resident - before.resident) / n;
  printf("resident memory per run in flight (%u runs, first step `wait`)\n",
         cfg->rss_runs);
  printf("  started %u runs in %.2f s (one durable commit each); all "
         "loaded and waiting %.0f ms after work began\n", cfg->rss_runs,
         started, (w->t_running - t0) * 1e3);
  printf("  %-26s %12s %12s %12s %12s\n", "", "anon KiB", "file KiB",
         "heap KiB", "anon/run");
  printf("  %-26s %12.0f %12.0f %12.0f\n", "before work", kib(before.anon),
         kib(before.file), kib(before.heap));
  printf("  %-26s %12.0f %12.0f %12.0f %10.2f KiB\n",
         "all in flight (at once)", kib(w->mem_running.anon),
         kib(w->mem_running.file), kib(w->mem_running.heap),
         kib(w->mem_running.anon - before.anon) / n);
  printf("  %-26s %12.0f %12.0f %12.0f %10.2f KiB\n", "in flight, settled",
         kib(s.settled.anon), kib(s.settled.file), kib(s.settled.heap),
         res->rss_kib_per_run);
  printf("  %-26s %12.0f %12.0f %12.0f %10.2f KiB\n",
         "in flight, malloc_trim(0)", kib(s.trimmed.anon),
         kib(s.trimmed.file), kib(s.trimmed.heap),
         kib(s.trimmed.anon - before.anon) / n);
  printf("  %-26s %12.0f %12.0f %12.0f\n", "after work (released)",
         kib(after.anon), kib(after.file), kib(after.heap));
  printf("  per run, settled: %.2f KiB anonymous (%.2f KiB still "
         "malloc'ed), %.2f KiB file-backed (journal pages, not counted), "
         "%.2f KiB resident in all\n", res->rss_kib_per_run,
         kib(s.settled.heap - before.heap) / n,
         kib(s.settled.file - before.file) / n, res->rss_total_kib);
  return 0;
}

static int rss_phase(const char *dir, const config *cfg, results *res) {
  char home[4096];
  watch w = {0};
  if (bench_subdir(home, sizeof home, dir, "rss") != 0)
    return -1;
  cairn_engine *e = engine_open(home, cfg->rss_runs);
  if (e == NULL)
    return -1;
  watch_reset(&w, e);
  cairn_engine_observe(e, on_note, &w);
  int rc = cairn_engine_register_kind(e, "noop", noop_fn, NULL);
  rc = rc ? engine_fail(e, "registering kind noop", rc) : 0;
  if (rc == 0)
    rc = register_def(e, wait_def);
  if (rc == 0)
    rc = rss_measure(e, &w, cfg, res);
  cairn_engine_close(e);
  free(w.done_at.v);
  return rc;
}

/* ---------------------------------------------------------- 3. commit */

typedef struct committer {
  cairn_journal *j;
  char run_id[CAIRN_RUN_ID_LEN + 1];
  uint32_t k;        /* events appended */
  double *lat_us;    /* commit latencies */
  size_t n, cap;
  int fd;            /* the fdatasync scratch file */
  double *sync_us;
  size_t n_sync;
} committer;

static int committer_open(committer *c, const char *dir, uint32_t commits) {
  char home[4096], path[4096], err[512] = "";
  cairn_journal_options o = {.no_sync = false};
  cairn_batch *b;
  memset(c, 0, sizeof *c);
  c->fd = -1;
  c->cap = commits;
  c->lat_us = calloc(commits, sizeof *c->lat_us);
  c->sync_us = calloc(commits, sizeof *c->sync_us);
  if (!c->lat_us || !c->sync_us)
    return -1;
  if (bench_subdir(home, sizeof home, dir, "commit") != 0 ||
      bench_subdir(path, sizeof path, dir, "fsync.dat") != 0)
    return -1;
  int rc = cairn_journal_open(home, &o, &c->j, err, sizeof err);
  if (rc) {
    fprintf(stderr, "bench_engine: opening %s: %s\n", home, err);
    return -1;
  }
  cairn_run_spec spec = {.workflow_id = "bench-commit",
                         .def_hash = dummy_hash};
  rc = cairn_batch_new(c->j, &b);
  if (rc == 0)
    rc = cairn_batch_create_run(b, &spec, c->run_id);
  if (rc == 0)
    rc = cairn_batch_commit(b);
  cairn_batch_free(b);
  if (rc)
    return journal_fail(c->j, "creating the commit run", rc);
  c->fd = open(path, O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0644);
  if (c->fd < 0) {
    fprintf(stderr, "bench_engine: %s: %s\n", path, strerror(errno));
    return -1;
  }
  return 0;
}

static void committer_close(committer *c) {
  cairn_journal_close(c->j);
  if (c->fd >= 0)
    close(c->fd);
  free(c->lat_us);
  free(c->sync_us);
}

/* One durable commit of a batch of one event: step.started or
 * step.completed of step "s<k/2>". */
static int commit_one(committer *c) {
  char step[16];
  cairn_batch *b;
  uint32_t k = c->k++;
  snprintf(step, sizeof step, "s%u", k / 2 + 1);
  cairn_event ev = {.type = k % 2 ? CAIRN_EV_STEP_COMPLETED
                                  : CAIRN_EV_STEP_STARTED,
                    .step = {step, strlen(step)}, .attempt = 1};
  if (k % 2) {
    ev.output = (cairn_str){"null", 4};
    ev.duration_us = 1;
  }
  else {
    ev.input = (cairn_str){"{}", 2};
  }
  double t0 = bench_now_s();
  int rc = cairn_batch_new(c->j, &b);
  if (rc == 0) {
    int op = cairn_batch_append(b, c->run_id, &ev, 1);
    rc = op < 0 ? op : cairn_batch_commit(b);
  }
  cairn_batch_free(b);
  double t = bench_now_s() - t0;
  if (rc)
    return journal_fail(c->j, "committing one event", rc);
  if (c->n < c->cap)
    c->lat_us[c->n++] = t * 1e6;
  return 0;
}

static int fsync_one(committer *c) {
  static const char buf[64] = "cairn bench";
  double t0 = bench_now_s();
  if (pwrite(c->fd, buf, sizeof buf, 0) != (ssize_t)sizeof buf ||
      fdatasync(c->fd) != 0) {
    fprintf(stderr, "bench_engine: fdatasync: %s\n", strerror(errno));
    return -1;
  }
  if (c->n_sync < c->cap)
    c->sync_us[c->n_sync++] = (bench_now_s() - t0) * 1e6;
  return 0;
}

/* n commits and n fdatasyncs, alternating. */
static int commit_slice(committer *c, uint32_t n) {
  for (uint32_t i = 0; i < n; i++)
    if (commit_one(c) != 0 || fsync_one(c) != 0)
      return -1;
  return 0;
}

/* ------------------------------------------------------------- 2. seq */

static int seq_latency_from_journal(cairn_engine *e, const char *run_id,
                                    results *res) {
  cairn_reader *r;
  cairn_run_info info;
  cairn_history *it;
  cairn_event ev;
  size_t n = 0, cap = 0;
  double *lat = NULL;
  int64_t prev = 0;
  cairn_journal *j = cairn_engine_journal(e);
  int rc = cairn_reader_begin(j, &r);
  if (rc)
    return journal_fail(j, "reading", rc);
  rc = cairn_reader_run_by_id(r, run_id, &info);
  if (rc == 0)
    rc = cairn_reader_history(r, info.key, 1, &it);
  if (rc) {
    cairn_reader_end(r);
    return journal_fail(j, "reading the seq run", rc);
  }
  while ((rc = cairn_history_next(it, &ev)) == 1) {
    if (ev.type != CAIRN_EV_STEP_COMPLETED)
      continue;
    if (prev && n == cap) {
      cap = cap ? 2 * cap : 1024;
      double *l = realloc(lat, cap * sizeof *l);
      if (l == NULL)
        break;
      lat = l;
    }
    if (prev && n < cap)
      lat[n++] = (double)(ev.time_us - prev);
    prev = ev.time_us;
  }
  cairn_history_close(it);
  cairn_reader_end(r);
  if (rc < 0) {
    free(lat);
    return journal_fail(j, "reading the seq history", rc);
  }
  res->seq_journal_p50_us = bench_percentile(lat, n, 0.50);
  res->seq_journal_p99_us = bench_percentile(lat, n, 0.99);
  free(lat);
  return 0;
}

static int seq_run(cairn_engine *e, watch *w, const config *cfg,
                   results *res) {
  char run_id[CAIRN_RUN_ID_LEN + 1];
  uint64_t u0, u1;
  if (used_bytes(e, &u0) != 0 ||
      start_runs(e, "bench_seq", 1, run_id) != 0)
    return -1;
  w->record = true;
  double c0 = bench_cpu_s(), t0 = bench_now_s();
  int rc = cairn_engine_work(e, CAIRN_WORK_RUN, run_id);
  double t = bench_now_s() - t0, cpu = bench_cpu_s() - c0;
  if (rc)
    return engine_fail(e, "working on the seq run", rc);
  if (check_failures(w) != 0)
    return -1;
  if (w->done_at.n != cfg->seq_steps) {
    fprintf(stderr, "bench_engine: the seq run completed %zu of %u steps\n",
            w->done_at.n, cfg->seq_steps);
    return -1;
  }
  if (used_bytes(e, &u1) != 0)
    return -1;
  size_t n = w->done_at.n - 1;
  double *lat = malloc(n * sizeof *lat);
  if (lat == NULL)
    return -1;
  for (size_t i = 0; i < n; i++)
    lat[i] = (w->done_at.v[i + 1] - w->done_at.v[i]) * 1e6;
  res->seq_p50_us = bench_percentile(lat, n, 0.50);
  res->seq_p99_us = bench_percentile(lat, n, 0.99);
  free(lat);
  res->seq_cpu_us = cpu * 1e6 / cfg->seq_steps;
  res->seq_bytes_per_step = (double)(u1 - u0) / cfg->seq_steps;
  printf("sequential run: %u chained noop steps in %.3f s (%.0f steps/s), "
         "%.1f us CPU per step\n", cfg->seq_steps, t, cfg->seq_steps / t,
         res->seq_cpu_us);
  return seq_latency_from_journal(e, run_id, res);
}

static int seq_phase(const char *dir, const config *cfg, results *res) {
  char home[4096];
  watch w = {0};
  committer c;
  char *def = chain_def("bench_seq", "noop", cfg->seq_steps);
  int rc = def ? committer_open(&c, dir, cfg->commits) : -1;
  if (rc == 0)
    rc = bench_subdir(home, sizeof home, dir, "seq");
  cairn_engine *e = rc == 0 ? engine_open(home, 0) : NULL;
  if (e == NULL)
    rc = -1;
  if (rc == 0) {
    watch_reset(&w, e);
    cairn_engine_observe(e, on_note, &w);
    rc = cairn_engine_register_kind(e, "noop", noop_fn, NULL);
    rc = rc ? engine_fail(e, "registering kind noop", rc) : 0;
  }
  if (rc == 0)
    rc = register_def(e, def);
  if (rc == 0)
    rc = commit_slice(&c, cfg->commits / 2);
  if (rc == 0)
    rc = seq_run(e, &w, cfg, res);
  if (rc == 0)
    rc = commit_slice(&c, cfg->commits - cfg->commits / 2);
  if (rc == 0) {
    res->commit_p50_us = bench_percentile(c.lat_us, c.n, 0.50);
    res->commit_p99_us = bench_percentile(c.lat_us, c.n, 0.99);
    res->fsync_p50_us = bench_percentile(c.sync_us, c.n_sync, 0.50);
    printf("  per-step latency (observer)   p50 %8.0f us   p99 %8.0f us\n",
           res->seq_p50_us, res->seq_p99_us);
    printf("  per-step latency (journal)    p50 %8.0f us   p99 %8.0f us\n",
           res->seq_journal_p50_us, res->seq_journal_p99_us);
    printf("  1-event journal commit        p50 %8.0f us   p99 %8.0f us   "
           "(%zu commits)\n", res->commit_p50_us, res->commit_p99_us, c.n);
    printf("  64-byte pwrite + fdatasync    p50 %8.0f us\n",
           res->fsync_p50_us);
    printf("  seq step p50 / commit p50     %.2f\n",
           res->seq_p50_us / res->commit_p50_us);
    printf("  journal bytes per step        %.0f (one run of %u steps)\n",
           res->seq_bytes_per_step, cfg->seq_steps);
  }
  cairn_engine_close(e);
  if (def)
    committer_close(&c);
  free(w.done_at.v);
  free(def);
  return rc;
}

/* ------------------------------------------------------------ 4. tput */

/* One round: n runs started, then drained. Adds its steps and the wall
 * and CPU time of the work call. */
static int tput_round(cairn_engine *e, watch *w, size_t n, uint64_t *steps,
                      double *wall, double *cpu) {
  if (start_runs(e, "bench_tput", (uint32_t)n, NULL) != 0)
    return -1;
  atomic_store(&w->completed, 0);
  w->stop_completed = n * TPUT_STEPS;
  double c0 = bench_cpu_s(), t0 = bench_now_s();
  int rc = cairn_engine_work(e, CAIRN_WORK_DRAIN, NULL);
  *wall += bench_now_s() - t0;
  *cpu += bench_cpu_s() - c0;
  if (rc)
    return engine_fail(e, "draining", rc);
  if (check_failures(w) != 0)
    return -1;
  uint64_t done = atomic_load(&w->completed);
  if (done != n * TPUT_STEPS) {
    fprintf(stderr, "bench_engine: a round of %zu runs completed %llu of "
            "%zu steps\n", n, (unsigned long long)done, n * TPUT_STEPS);
    return -1;
  }
  *steps += done;
  return 0;
}

/* Rounds kept for the spread of per-round rates. */
#define MAX_ROUNDS 4096

static int tput_measure(cairn_engine *e, watch *w, const config *cfg,
                        results *res) {
  uint64_t u0, u1, all_steps = 0;
  double *rate = malloc(MAX_ROUNDS * sizeof *rate);
  if (rate == NULL || used_bytes(e, &u0) != 0) {
    free(rate);
    return -1;
  }
  printf("throughput (%d chained noop steps per run, drained; %.1f s "
         "timed per row)\n", TPUT_STEPS, cfg->tput_seconds);
  printf("  %6s %7s %8s %8s %10s %10s %10s %10s %10s\n", "runs",
         "rounds", "steps", "work s", "steps/s", "round p10", "round p50",
         "round p90", "cpu/step");
  for (size_t i = 0; i < N_CONC; i++) {
    uint64_t steps = 0;
    double wall = 0, cpu = 0;
    size_t rounds = 0;
    double deadline = bench_now_s() + 10 * cfg->tput_seconds;
    while (wall < cfg->tput_seconds && bench_now_s() < deadline &&
           rounds < MAX_ROUNDS) {
      uint64_t s0 = steps;
      double w0 = wall;
      if (tput_round(e, w, concurrency[i], &steps, &wall, &cpu) != 0) {
        free(rate);
        return -1;
      }
      rate[rounds++] = (double)(steps - s0) / (wall - w0);
    }
    res->steps_per_s[i] = (double)steps / wall;
    res->cpu_us_per_step[i] = cpu * 1e6 / (double)steps;
    all_steps += steps;
    double p10 = bench_percentile(rate, rounds, 0.10);
    printf("  %6zu %7zu %8llu %8.3f %10.0f %10.0f %10.0f %10.0f %7.1f us\n",
           concurrency[i], rounds, (unsigned long long)steps, wall,
           res->steps_per_s[i], p10, bench_percentile(rate, rounds, 0.50),
           bench_percentile(rate, rounds, 0.90), res->cpu_us_per_step[i]);
    fflush(stdout);
  }
  free(rate);
  if (used_bytes(e, &u1) != 0)
    return -1;
  res->bytes_per_step = (double)(u1 - u0) / (double)all_steps;
  printf("  journal bytes per step        %.0f (runs of %d steps, run "
         "records, indexes and audit included)\n", res->bytes_per_step,
         TPUT_STEPS);
  return 0;
}

static int tput_phase(const char *dir, const config *cfg, results *res) {
  char home[4096];
  watch w = {0};
  char *def = chain_def("bench_tput", "noop", TPUT_STEPS);
  int rc = def ? bench_subdir(home, sizeof home, dir, "tput") : -1;
  cairn_engine *e = rc == 0 ? engine_open(home, 0) : NULL;
  if (e == NULL)
    rc = -1;
  if (rc == 0) {
    watch_reset(&w, e);
    cairn_engine_observe(e, on_note, &w);
    rc = cairn_engine_register_kind(e, "noop", noop_fn, NULL);
    rc = rc ? engine_fail(e, "registering kind noop", rc) : 0;
  }
  if (rc == 0)
    rc = register_def(e, def);
  if (rc == 0)
    rc = tput_measure(e, &w, cfg, res);
  cairn_engine_close(e);
  free(w.done_at.v);
  free(def);
  return rc;
}

/* --------------------------------------------------------- 6. recover */

/* The child: starts n one-step runs and works them with a step that
 * never returns; says "r" on fd once every step.started is durable.
 * The parent kills it. */
static int interrupted_child(const char *home, uint32_t n, int fd) {
  watch w = {0};
  alarm(PHASE_TIMEOUT_S); /* never outlive a parent that forgot us */
  cairn_engine *e = engine_open(home, n);
  char *def = chain_def("bench_recover", "bench_step", 1);
  if (e == NULL || def == NULL)
    return 1;
  watch_reset(&w, e);
  w.want_running = n;
  w.notify_fd = fd;
  cairn_engine_observe(e, on_note, &w);
  int rc = cairn_engine_register_kind(e, "bench_step", block_fn, NULL);
  if (rc) {
    engine_fail(e, "registering kind bench_step", rc);
    return 1;
  }
  if (register_def(e, def) != 0 ||
      start_runs(e, "bench_recover", n, NULL) != 0)
    return 1;
  rc = cairn_engine_work(e, CAIRN_WORK_DRAIN, NULL);
  fprintf(stderr, "bench_engine: the interrupted child returned (%s): %s\n",
          cairn_err_name(rc), cairn_engine_errmsg(e));
  return 1;
}

/* Runs the child on `home` and kills it once its runs are interrupted. */
static int make_interrupted(const char *home, uint32_t n, double *secs) {
  int fds[2];
  char nbuf[16], fdbuf[16], c;
  double t0 = bench_now_s();
  if (pipe(fds) != 0) {
    fprintf(stderr, "bench_engine: pipe: %s\n", strerror(errno));
    return -1;
  }
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    fprintf(stderr, "bench_engine: fork: %s\n", strerror(errno));
    return -1;
  }
  if (pid == 0) {
    close(fds[0]);
    snprintf(nbuf, sizeof nbuf, "%u", n);
    snprintf(fdbuf, sizeof fdbuf, "%d", fds[1]);
    execl("/proc/self/exe", "bench_engine", "--interrupted-child", home,
          nbuf, fdbuf, (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  struct pollfd p = {.fd = fds[0], .events = POLLIN};
  int ready = poll(&p, 1, PHASE_TIMEOUT_S * 1000);
  bool ok = ready == 1 && read(fds[0], &c, 1) == 1;
  close(fds[0]);
  kill(pid, SIGKILL);
  int status;
  waitpid(pid, &status, 0); /* reaped: its pid is dead to the engine */
  *secs = bench_now_s() - t0;
  if (!ok) {
    fprintf(stderr, "bench_engine: the interrupted child did not get its "
            "%u runs in flight\n", n);
    return -1;
  }
  return 0;
}

static int recover_measure(const char *home, const config *cfg,
                           results *res) {
  watch w = {0};
  uint32_t n = cfg->recover_runs;
  double t0 = bench_now_s();
  cairn_engine *e = engine_open(home, n);
  if (e == NULL)
    return -1;
  res->recover_open_ms = (bench_now_s() - t0) * 1e3;
  watch_reset(&w, e);
  w.want_running = n;
  w.stop_completed = n;
  cairn_engine_observe(e, on_note, &w);
  int rc = cairn_engine_register_kind(e, "bench_step", noop_fn, NULL);
  rc = rc ? engine_fail(e, "registering kind bench_step", rc) : 0;
  double c0 = bench_cpu_s();
  t0 = bench_now_s();
  if (rc == 0 && (rc = cairn_engine_work(e, CAIRN_WORK_DRAIN, NULL)) != 0)
    rc = engine_fail(e, "recovering", rc);
  double t = bench_now_s() - t0, cpu = bench_cpu_s() - c0;
  if (rc == 0)
    rc = check_failures(&w);
  uint64_t done = atomic_load(&w.completed);
  if (rc == 0 && (done != n || w.reruns != n)) {
    fprintf(stderr, "bench_engine: recovery completed %llu of %u runs "
            "(%llu re-run as a new attempt)\n", (unsigned long long)done,
            n, (unsigned long long)w.reruns);
    rc = -1;
  }
  if (rc == 0) {
    res->resume_ms = (w.t_running - t0) * 1e3;
    res->recover_ms = (w.t_completed - t0) * 1e3;
    printf("  engine open %.1f ms (not counted); work: every attempt 2 "
           "started %.0f ms, every run completed %.0f ms; work returned "
           "%.0f ms; CPU %.0f ms\n", res->recover_open_ms, res->resume_ms,
           res->recover_ms, t * 1e3, cpu * 1e3);
  }
  cairn_engine_close(e);
  free(w.done_at.v);
  return rc;
}

static int recover_phase(const char *dir, const config *cfg, results *res) {
  char home[4096];
  double child_s = 0;
  if (bench_subdir(home, sizeof home, dir, "recover") != 0)
    return -1;
  printf("recovery of %u interrupted one-step runs\n", cfg->recover_runs);
  if (make_interrupted(home, cfg->recover_runs, &child_s) != 0)
    return -1;
  printf("  child started %u runs, got every step.started durable, and "
         "was killed: %.2f s\n", cfg->recover_runs, child_s);
  return recover_measure(home, cfg, res);
}

/* ---------------------------------------------------------------- main */



static void row(const char *name, const char *value, const char *target,
                bool has_target, bool ok) {
  printf("  %-30s %14s   %-22s %s\n", name, value, target,
         has_target ? (ok ? "ok" : "MISSED") : "");
}

static void print_table(const results *r, const config *cfg) {
  char v[64], t[64], name[64];
  double ratio = r->seq_p50_us / r->commit_p50_us;
  printf("\n  %-30s %14s   %-22s %s\n", "figure", "value", "target",
         "verdict");
  snprintf(v, sizeof v, "%.0f us", r->seq_p50_us);
  row("seq step p50", v, "", false, true);
  snprintf(v, sizeof v, "%.0f us", r->seq_p99_us);
  row("seq step p99", v, "", false, true);
  snprintf(v, sizeof v, "%.0f us", r->commit_p50_us);
  row("1-event durable commit p50", v, "", false, true);
  snprintf(v, sizeof v, "%.2f", ratio);
  snprintf(t, sizeof t, "<= %.1f x commit", TARGET_SEQ_RATIO);
  row("seq step p50 / commit p50", v, t, true, ratio <= TARGET_SEQ_RATIO);
  for (size_t i = 0; i < N_CONC; i++) {
    bool last = i == N_CONC - 1;
    snprintf(name, sizeof name, "steps/s, %zu runs in flight",
             concurrency[i]);
    snprintf(v, sizeof v, "%.0f", r->steps_per_s[i]);
    snprintf(t, sizeof t, ">= %.0f", TARGET_STEPS_PER_S_C256);
    row(name, v, last ? t : "", last,
        r->steps_per_s[i] >= TARGET_STEPS_PER_S_C256);
  }
  snprintf(v, sizeof v, "%.2f KiB", r->rss_kib_per_run);
  snprintf(t, sizeof t, "<= %.0f KiB", TARGET_KIB_PER_RUN);
  row("resident memory per run", v, t, true,
      r->rss_kib_per_run <= TARGET_KIB_PER_RUN);
  snprintf(v, sizeof v, "%.0f B", r->bytes_per_step);
  snprintf(t, sizeof t, "<= %.0f B", TARGET_BYTES_PER_STEP);
  row("journal bytes per step", v, t, true,
      r->bytes_per_step <= TARGET_BYTES_PER_STEP);
  snprintf(name, sizeof name, "recover %u runs", cfg->recover_runs);
  snprintf(v, sizeof v, "%.0f ms", r->recover_ms);
  snprintf(t, sizeof t, "< %.0f ms%s", TARGET_RECOVER_MS,
           cfg->quick ? " (for 10k)" : "");
  row(name, v, t, !cfg->quick, r->recover_ms < TARGET_RECOVER_MS);
}

/* The last line: one key=value per figure, for scripts. */
static void print_result(const results *r) {
  printf("RESULT bench=engine seq_step_p50_us=%.0f seq_step_p99_us=%.0f "
         "commit_p50_us=%.0f seq_ratio=%.2f steps_per_s_c1=%.0f "
         "steps_per_s_c16=%.0f steps_per_s_c256=%.0f rss_kib_per_run=%.2f "
         "journal_bytes_per_step=%.0f recover_10k_ms=%.0f\n",
         r->seq_p50_us, r->seq_p99_us, r->commit_p50_us,
         r->seq_p50_us / r->commit_p50_us, r->steps_per_s[0],
         r->steps_per_s[1], r->steps_per_s[2], r->rss_kib_per_run,
         r->bytes_per_step, r->recover_ms);
}

static int parse_args(int argc, char **argv, config *cfg) {
  *cfg = (config){.seq_steps = SEQ_STEPS, .commits = COMMITS,
                  .tput_seconds = TPUT_SECONDS, .rss_runs = RSS_RUNS,
                  .recover_runs = RECOVER_RUNS};
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") != 0) {
      fprintf(stderr, "usage: bench_engine [--quick]\n");
      return -1;
    }
    *cfg = (config){.quick = true, .seq_steps = 200, .commits = 200,
                    .tput_seconds = 0.15, .rss_runs = 1000,
                    .recover_runs = 1000};
  }
  return 0;
}

int main(int argc, char **argv) {
  config cfg;
  results res = {0};
  char dir[4096];
  const char *tmp = getenv("TMPDIR");
  if (argc == 5 && strcmp(argv[1], "--interrupted-child") == 0)
    return interrupted_child(argv[2], (uint32_t)strtoul(argv[3], NULL, 10),
                             atoi(argv[4]));
  if (parse_args(argc, argv, &cfg) != 0)
    return 2;
  snprintf(dir, sizeof dir, "%s/cairn-bench-XXXXXX", tmp ? tmp : "/tmp");
  if (mkdtemp(dir) == NULL) {
    fprintf(stderr, "bench_engine: mkdtemp %s: %s\n", dir,
            strerror(errno));
    return 1;
  }
  printf("cairn engine benchmark in %s (durable commits, libuv thread "
         "pool %s)\n", dir, getenv("UV_THREADPOOL_SIZE")
                                ? getenv("UV_THREADPOOL_SIZE") : "4");
  fflush(stdout);
  double t0 = bench_now_s();
  int rc = rss_phase(dir, &cfg, &res);
  if (rc == 0)
    rc = seq_phase(dir, &cfg, &res);
  if (rc == 0)
    rc = tput_phase(dir, &cfg, &res);
  if (rc == 0)
    rc = recover_phase(dir, &cfg, &res);
  bench_remove_tree(dir);
  if (rc != 0)
    return 1;
  print_table(&res, &cfg);
  printf("total %.1f s\n", bench_now_s() - t0);
  print_result(&res);
  return 0;
}
