/*
 * journal.c — the journal benchmark: what a durable append costs, how close
 * the journal comes to bare LMDB, how fast history folds back into views,
 * and how many bytes an event takes on disk.
 *
 *   bench_journal [--quick]
 *
 * Everything happens in a fresh directory under $TMPDIR (default /tmp),
 * removed at exit. The figures are only meaningful on a real disk: on a
 * tmpfs an fsync costs nothing.
 *
 * Workload. One stream of events, shaped like what the engine writes: a run
 * begins with run.started (cairn_batch_create_run), then each step "s1",
 * "s2", ... gets a step.started (attempt 1) and a step.completed with a
 * small JSON output; when a run holds its share of steps the next run
 * begins. Distinct step names mean every event writes its own step and
 * attempt views, as in real runs.
 *
 * Phases.
 *  1. append: durable commits (fsync, no_sync = false) of batches of 1, 10,
 *     100 and 1000 events. One commit is one cairn_batch of exactly N
 *     events of the stream (a run.started counts as one), so every view,
 *     index and lifecycle check is in the cost.
 *  2. raw: the same stream into bare LMDB: a separate environment (default
 *     sync flags, MDB_NOTLS), one named database, the events encoded with
 *     cairn_event_encode (the very bytes the journal stores) under 12-byte
 *     big-endian (run u64, seq u32) keys, N mdb_put per synced write
 *     transaction. That is the floor: one put per event and nothing else;
 *     journal/raw is the share of it the journal keeps after its views,
 *     indexes and checks. Both sides encode inside the timed loop, and
 *     both start with a 1 GiB map so that neither pays for map growth.
 *     Each size runs SLICES alternating slices of journal and raw commits
 *     and reports the median slice of each, so that drift and stalls of
 *     the disk hit both stores alike. The CPU columns (user + system per
 *     event) tell CPU cost from waiting for the disk.
 *  3. replay: a no_sync journal of REPLAY_RUNS runs of REPLAY_RUN_LEN step
 *     events (plus run.started) written in batches of 1000, then every
 *     history read through cairn_reader_history / cairn_history_next (which
 *     decode) and folded with the internal fold exactly as verify does (a
 *     loader that finds nothing): one thread, one snapshot, warm cache.
 *  4. size: cairn_journal_stats_get's used_bytes / events, i.e. every page
 *     in use (events, views, indexes, LMDB's free pages) per event. The
 *     RESULT line takes it from the replay journal, whose shape does not
 *     depend on timing; the durable journal's figure is printed too.
 *
 * The last line is machine-readable (see print_result). --quick shrinks
 * every phase so a smoke test finishes in a few seconds.
 */
#include "bench_util.h"
#include "../journal/internal.h" /* the fold, used as verify uses it */

#include <cairn/cairn.h>
#include <errno.h>
#include <ftw.h>
#include <lmdb.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define MAX_BATCH 1000
/* Slices per batch size and store (see phases 1 and 2 above). */
#define SLICES 8
/* 1 GiB: costs only address space; holds either store's data. */
#define MAP_BYTES ((size_t)1 << 30)
/* Durable phases: 500 steps per run, a plausible large workflow. */
#define APPEND_RUN_LEN 1000
/* Replay: 100 runs of 10,000 step events, 1,000,100 events in all. */
#define REPLAY_RUN_LEN 10000
#define REPLAY_RUNS 100
#define REPLAY_RUNS_QUICK 5
#define REPLAY_BATCH 1000

static const size_t batch_sizes[] = {1, 10, 100, 1000};
#define N_SIZES (sizeof batch_sizes / sizeof batch_sizes[0])

/* Any valid SHA-256 text: the journal does not require the snapshot. */
static const char def_hash[] =
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

typedef struct config {
  double seconds;       /* per batch size and store */
  uint32_t replay_runs; /* runs of REPLAY_RUN_LEN step events */
} config;

typedef struct results {
  double append_eps[N_SIZES]; /* journal, events per second */
  double raw_eps[N_SIZES];    /* bare LMDB, events per second */
  double durable_bpe;         /* bytes per event, durable journal */
  double replay_eps;          /* events read, decoded, folded per second */
  double replay_bpe;          /* bytes per event, replay journal */
} results;




static cairn_str cstr(const char *s) { return (cairn_str){s, strlen(s)}; }

static int journal_fail(cairn_journal *j, const char *what, int rc) {
  fprintf(stderr, "bench_journal: %s: %s: %s\n", what, cairn_err_name(rc),
          cairn_journal_errmsg(j));
  return -1;
}

static int lmdb_fail(const char *what, int rc) {
  fprintf(stderr, "bench_journal: %s: %s\n", what, mdb_strerror(rc));
  return -1;
}

/* out = dir/name; -1 when it does not fit. */

/* ------------------------------------------------------------ workload */

/* The event stream: run after run, each run.started then run_len step
 * events. The strings of event i of a batch live in slots[i] until the
 * next batch. */
typedef struct workload {
  uint32_t run_len;  /* step events per run, even */
  uint64_t run;      /* runs begun, i.e. the current run's number */
  uint32_t seq;      /* seq of the current run's last event */
  uint64_t events;   /* events produced */
  char run_id[CAIRN_RUN_ID_LEN + 1];
  char workflow_id[32];
  struct {
    char step[16];
    char output[32];
  } slots[MAX_BATCH];
} workload;

/* Writes v in decimal at p and returns the end. The workload runs inside
 * both timed loops, so it avoids snprintf, which costs as much as a put. */
static char *put_uint(char *p, uint32_t v) {
  char tmp[10];
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n > 0)
    *p++ = tmp[--n];
  return p;
}

static void workload_init(workload *w, uint32_t run_len) {
  memset(w, 0, sizeof *w);
  w->run_len = run_len;
}

/* Whether the next event begins a new run. */
static bool workload_at_run_end(const workload *w) {
  return w->run == 0 || w->seq == w->run_len + 1;
}

/* Run ids are the run's number shaped as a UUID, so that the journal and
 * the raw store get the same bytes. */
static void begin_run(workload *w, cairn_event *ev) {
  w->events++;
  w->run++;
  w->seq = 1;
  snprintf(w->run_id, sizeof w->run_id, "00000000-0000-7000-8000-%012llx",
           (unsigned long long)w->run);
  snprintf(w->workflow_id, sizeof w->workflow_id, "bench-%llu",
           (unsigned long long)w->run);
  *ev = (cairn_event){.type = CAIRN_EV_RUN_STARTED,
                      .seq = 1,
                      .time_us = bench_wall_us(),
                      .input = cstr("null"),
                      .run_id = cstr(w->run_id),
                      .workflow_id = cstr(w->workflow_id),
                      .ns = cstr("default"),
                      .def_hash = cstr(def_hash)};
}

/* Fills *ev with the next event of the stream, its strings in slot i. */
static void workload_next(workload *w, size_t i, cairn_event *ev) {
  if (workload_at_run_end(w)) {
    begin_run(w, ev);
    return;
  }
  static const char prefix[] = "{\"ok\":true,\"n\":";
  uint32_t k = ++w->seq - 2; /* step events before this one */
  char *step = w->slots[i].step, *out = w->slots[i].output, *p;
  w->events++;
  step[0] = 's';
  *put_uint(step + 1, k / 2 + 1) = '\0';
  *ev = (cairn_event){.seq = w->seq,
                      .time_us = bench_wall_us(),
                      .step = cstr(step),
                      .attempt = 1};
  if (k % 2 == 0) {
    ev->type = CAIRN_EV_STEP_STARTED;
    return;
  }
  memcpy(out, prefix, sizeof prefix - 1);
  p = put_uint(out + sizeof prefix - 1, k);
  p[0] = '}';
  p[1] = '\0';
  ev->type = CAIRN_EV_STEP_COMPLETED;
  ev->output = cstr(out);
  ev->duration_us = 1000 + k % 997;
}

/* ------------------------------------------------------- journal sink */

typedef struct jsink {
  cairn_journal *j;
  workload w;
  cairn_event pending[MAX_BATCH]; /* step events of the current run */
  size_t n_pending;
} jsink;

static int jsink_flush(jsink *s, cairn_batch *b) {
  if (s->n_pending == 0)
    return 0;
  int rc = cairn_batch_append(b, s->w.run_id, s->pending, s->n_pending);
  s->n_pending = 0;
  return rc < 0 ? rc : 0;
}

static int jsink_create_run(jsink *s, cairn_batch *b, const cairn_event *ev) {
  char id[CAIRN_RUN_ID_LEN + 1];
  cairn_run_spec spec = {.workflow_id = s->w.workflow_id,
                         .run_id = s->w.run_id,
                         .def_hash = def_hash,
                         .input = ev->input,
                         .time_us = ev->time_us};
  return cairn_batch_create_run(b, &spec, id);
}

/* Adds the next n events of the stream to b. */
static int jsink_fill(jsink *s, cairn_batch *b, size_t n) {
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    cairn_event ev;
    if (workload_at_run_end(&s->w))
      rc = jsink_flush(s, b); /* the pending events are the old run's */
    workload_next(&s->w, i, &ev);
    if (rc == 0 && ev.type == CAIRN_EV_RUN_STARTED)
      rc = jsink_create_run(s, b, &ev);
    else if (rc == 0)
      s->pending[s->n_pending++] = ev;
  }
  if (rc == 0)
    rc = jsink_flush(s, b);
  s->n_pending = 0;
  return rc;
}

/* Commits the next n events of the stream as one batch. */
static int jsink_commit(void *ctx, size_t n) {
  jsink *s = ctx;
  cairn_batch *b;
  int rc = cairn_batch_new(s->j, &b);
  if (rc == 0)
    rc = jsink_fill(s, b, n);
  if (rc == 0)
    rc = cairn_batch_commit(b);
  cairn_batch_free(b);
  return rc ? journal_fail(s->j, "journal commit", rc) : 0;
}

static int jsink_open(jsink *s, const char *home, bool no_sync,
                      uint32_t run_len) {
  cairn_journal_options o = {.initial_map_bytes = MAP_BYTES,
                             .no_sync = no_sync};
  char err[512] = "";
  workload_init(&s->w, run_len);
  s->n_pending = 0;
  int rc = cairn_journal_open(home, &o, &s->j, err, sizeof err);
  if (rc)
    fprintf(stderr, "bench_journal: opening %s: %s\n", home, err);
  return rc ? -1 : 0;
}

/* Used bytes per event of the journal, or -1. */
static double journal_bytes_per_event(cairn_journal *j) {
  cairn_journal_stats st;
  int rc = cairn_journal_stats_get(j, &st);
  if (rc || st.events == 0) {
    journal_fail(j, "journal stats", rc);
    return -1;
  }
  printf("  journal: %llu events in %llu runs, %llu view records: %llu "
         "bytes in use, %.0f event bytes/event, %.0f used bytes/event\n",
         (unsigned long long)st.events, (unsigned long long)st.runs,
         (unsigned long long)st.view_records,
         (unsigned long long)st.used_bytes,
         (double)st.event_bytes / (double)st.events,
         (double)st.used_bytes / (double)st.events);
  return (double)st.used_bytes / (double)st.events;
}

/* ------------------------------------------------------------ raw sink */

typedef struct rsink {
  MDB_env *env;
  MDB_dbi dbi;
  workload w;
} rsink;

static int rsink_put(rsink *s, MDB_txn *txn, const cairn_event *ev) {
  unsigned char kb[12];
  char *buf;
  size_t len;
  int rc = cairn_event_encode(ev, &buf, &len);
  if (rc) {
    fprintf(stderr, "bench_journal: encoding: %s\n", cairn_err_name(rc));
    return -1;
  }
  cairn__put_be64(kb, s->w.run);
  cairn__put_be32(kb + 8, ev->seq);
  MDB_val k = {sizeof kb, kb}, v = {len, buf};
  rc = mdb_put(txn, s->dbi, &k, &v, 0);
  free(buf);
  return rc ? lmdb_fail("raw put", rc) : 0;
}

/* Puts the next n events of the stream in one write transaction. */
static int rsink_commit(void *ctx, size_t n) {
  rsink *s = ctx;
  MDB_txn *txn;
  int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
  if (rc)
    return lmdb_fail("raw txn begin", rc);
  for (size_t i = 0; i < n; i++) {
    cairn_event ev;
    workload_next(&s->w, i, &ev);
    if (rsink_put(s, txn, &ev) != 0) {
      mdb_txn_abort(txn);
      return -1;
    }
  }
  rc = mdb_txn_commit(txn);
  return rc ? lmdb_fail("raw commit", rc) : 0;
}

static int rsink_open_db(rsink *s) {
  MDB_txn *txn;
  int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
  if (rc)
    return lmdb_fail("raw txn begin", rc);
  rc = mdb_dbi_open(txn, "events", MDB_CREATE, &s->dbi);
  if (rc) {
    mdb_txn_abort(txn);
    return lmdb_fail("raw dbi open", rc);
  }
  rc = mdb_txn_commit(txn);
  return rc ? lmdb_fail("raw commit", rc) : 0;
}

/* Prints the raw store's pages in use per event, for comparison with the
 * journal's (the same measure as cairn_journal_stats' used_bytes). */
static void rsink_print_size(const rsink *s) {
  MDB_envinfo info;
  MDB_stat st;
  mdb_env_info(s->env, &info);
  mdb_env_stat(s->env, &st);
  double used = (double)(info.me_last_pgno + 1) * st.ms_psize;
  printf("  raw LMDB: %llu events, %.0f bytes in use, %.0f used "
         "bytes/event\n", (unsigned long long)s->w.events, used,
         used / (double)s->w.events);
}

/* Opens a synced environment in `dir` (created). Close with
 * mdb_env_close, also after a failure. */
static int rsink_open(rsink *s, const char *dir, uint32_t run_len) {
  int rc;
  workload_init(&s->w, run_len);
  if (mkdir(dir, 0755) != 0) {
    fprintf(stderr, "bench_journal: mkdir %s: %s\n", dir, strerror(errno));
    return -1;
  }
  if ((rc = mdb_env_create(&s->env)) != 0)
    return lmdb_fail("raw env create", rc);
  if ((rc = mdb_env_set_maxdbs(s->env, 1)) != 0 ||
      (rc = mdb_env_set_mapsize(s->env, MAP_BYTES)) != 0 ||
      (rc = mdb_env_open(s->env, dir, MDB_NOTLS, 0644)) != 0)
    return lmdb_fail("raw env open", rc);
  return rsink_open_db(s);
}

/* ------------------------------------------------------ durable append */

typedef int (*commit_fn)(void *sink, size_t n);

/* One timed slice of commits. */
typedef struct slice {
  double eps;    /* events per second, wall clock */
  double cpu_us; /* process CPU (user + system) per event, µs */
} slice;

/* Commits batches of n events for `seconds` into *out. */
static int measure_slice(commit_fn commit, void *sink, size_t n,
                         double seconds, slice *out) {
  uint64_t events = 0;
  double t0 = bench_now_s(), c0 = bench_cpu_s(), t;
  do {
    if (commit(sink, n) != 0)
      return -1;
    events += n;
    t = bench_now_s() - t0;
  } while (t < seconds);
  out->eps = (double)events / t;
  out->cpu_us = (bench_cpu_s() - c0) * 1e6 / (double)events;
  return 0;
}


/* The median of slices' field at `off` (eps or cpu_us). */
static double median(const slice *sl, size_t n, size_t off) {
  double v[SLICES];
  for (size_t i = 0; i < n; i++)
    v[i] = *(const double *)((const char *)&sl[i] + off);
  qsort(v, n, sizeof v[0], bench_cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Batch size `n` on both stores, in alternating slices. */
static int append_size(jsink *js, rsink *rs, size_t n, double seconds,
                       size_t i, results *res) {
  slice jsl[SLICES], rsl[SLICES];
  for (size_t k = 0; k < SLICES; k++)
    if (measure_slice(jsink_commit, js, n, seconds / SLICES, &jsl[k]) ||
        measure_slice(rsink_commit, rs, n, seconds / SLICES, &rsl[k]))
      return -1;
  res->append_eps[i] = median(jsl, SLICES, offsetof(slice, eps));
  res->raw_eps[i] = median(rsl, SLICES, offsetof(slice, eps));
  printf("  %6zu %14.0f %14.0f %12.2f %11.2f us %11.2f us\n", n,
         res->append_eps[i], res->raw_eps[i],
         res->append_eps[i] / res->raw_eps[i],
         median(jsl, SLICES, offsetof(slice, cpu_us)),
         median(rsl, SLICES, offsetof(slice, cpu_us)));
  fflush(stdout);
  return 0;
}

static int append_sizes(jsink *js, rsink *rs, const config *cfg,
                        results *res) {
  printf("durable append (%.1f s per size and store, median of %d "
         "alternating slices)\n", cfg->seconds, SLICES);
  printf("  %6s %14s %14s %12s %14s %14s\n", "batch", "journal ev/s",
         "raw ev/s", "journal/raw", "journal cpu", "raw cpu");
  for (size_t i = 0; i < N_SIZES; i++)
    if (append_size(js, rs, batch_sizes[i], cfg->seconds, i, res) != 0)
      return -1;
  return 0;
}

static int append_phase(const char *dir, const config *cfg, results *res) {
  char jdir[4096], rdir[4096];
  jsink *js = calloc(1, sizeof *js);
  rsink *rs = calloc(1, sizeof *rs);
  int rc = js && rs ? 0 : -1;
  if (rc == 0)
    rc = bench_subdir(jdir, sizeof jdir, dir, "journal");
  if (rc == 0)
    rc = bench_subdir(rdir, sizeof rdir, dir, "raw");
  if (rc == 0)
    rc = jsink_open(js, jdir, false, APPEND_RUN_LEN);
  if (rc == 0)
    rc = rsink_open(rs, rdir, APPEND_RUN_LEN);
  if (rc == 0)
    rc = append_sizes(js, rs, cfg, res);
  if (rc == 0) {
    printf("durable stores on disk\n");
    rsink_print_size(rs);
    res->durable_bpe = journal_bytes_per_event(js->j);
    rc = res->durable_bpe < 0 ? -1 : 0;
  }
  if (rs && rs->env)
    mdb_env_close(rs->env);
  if (js)
    cairn_journal_close(js->j);
  free(js);
  free(rs);
  return rc;
}

/* --------------------------------------------------------------- replay */

/* Reads, decodes and folds the history of run `key`; adds its events. */
static int replay_run(cairn_journal *j, cairn_reader *r, uint64_t key,
                      uint64_t *events) {
  cairn_history *it;
  cairn__fold f;
  cairn__fold_loader none = {0};
  cairn_event ev;
  int rc = cairn_reader_history(r, key, 1, &it);
  if (rc)
    return journal_fail(j, "opening a history", rc);
  cairn__fold_init(&f, key, &none);
  for (;;) {
    if ((rc = cairn_history_next(it, &ev)) <= 0) {
      if (rc < 0)
        journal_fail(j, "reading a history", rc);
      break;
    }
    if ((rc = cairn__fold_apply(&f, &ev)) != 0) {
      fprintf(stderr, "bench_journal: fold of run key %llu: %s\n",
              (unsigned long long)key, f.err);
      break;
    }
    (*events)++;
  }
  cairn__fold_free(&f);
  cairn_history_close(it);
  return rc < 0 ? -1 : 0;
}

/* Replays runs with keys 1..runs (a fresh journal numbers them so). */
static int replay_all(cairn_journal *j, uint64_t runs, uint64_t *events) {
  cairn_reader *r;
  int rc = cairn_reader_begin(j, &r);
  if (rc)
    return journal_fail(j, "opening a reader", rc);
  for (uint64_t key = 1; key <= runs && rc == 0; key++)
    rc = replay_run(j, r, key, events);
  cairn_reader_end(r);
  return rc;
}

static int replay_build(jsink *js, uint64_t total) {
  while (total > 0) {
    size_t n = total < REPLAY_BATCH ? (size_t)total : REPLAY_BATCH;
    if (jsink_commit(js, n) != 0)
      return -1;
    total -= n;
  }
  return 0;
}

static int replay_measure(jsink *js, const config *cfg, results *res) {
  uint64_t total = (uint64_t)cfg->replay_runs * (REPLAY_RUN_LEN + 1);
  uint64_t events = 0;
  double t0 = bench_now_s();
  if (replay_build(js, total) != 0)
    return -1;
  double built = bench_now_s() - t0;
  t0 = bench_now_s();
  if (replay_all(js->j, cfg->replay_runs, &events) != 0)
    return -1;
  double t = bench_now_s() - t0;
  if (events != total) {
    fprintf(stderr, "bench_journal: replayed %llu events of %llu\n",
            (unsigned long long)events, (unsigned long long)total);
    return -1;
  }
  res->replay_eps = (double)events / t;
  printf("replay (one thread, warm cache)\n");
  printf("  built %llu events in %u runs (no_sync, batch %d): %.2f s, "
         "%.0f ev/s\n", (unsigned long long)total, cfg->replay_runs,
         REPLAY_BATCH, built, (double)total / built);
  printf("  read + decode + fold: %.2f s, %.0f ev/s\n", t, res->replay_eps);
  return 0;
}

static int replay_phase(const char *dir, const config *cfg, results *res) {
  char jdir[4096];
  jsink *js = calloc(1, sizeof *js);
  int rc = js ? 0 : -1;
  if (rc == 0)
    rc = bench_subdir(jdir, sizeof jdir, dir, "replay");
  if (rc == 0)
    rc = jsink_open(js, jdir, true, REPLAY_RUN_LEN);
  if (rc == 0)
    rc = replay_measure(js, cfg, res);
  if (rc == 0) {
    printf("replay journal on disk\n");
    res->replay_bpe = journal_bytes_per_event(js->j);
    rc = res->replay_bpe < 0 ? -1 : 0;
  }
  if (js)
    cairn_journal_close(js->j);
  free(js);
  return rc;
}

/* ---------------------------------------------------------------- main */



static double ratio_at(const results *res, size_t i) {
  return res->raw_eps[i] > 0 ? res->append_eps[i] / res->raw_eps[i] : 0;
}

/* The last line: one key=value per figure, for scripts. */
static void print_result(const results *res) {
  printf("RESULT bench=journal append_b1_eps=%.0f append_b100_eps=%.0f "
         "raw_b100_eps=%.0f ratio_b100=%.2f replay_eps=%.0f "
         "bytes_per_event=%.0f\n",
         res->append_eps[0], res->append_eps[2], res->raw_eps[2],
         ratio_at(res, 2), res->replay_eps, res->replay_bpe);
}

static int parse_args(int argc, char **argv, config *cfg) {
  *cfg = (config){.seconds = 2.0, .replay_runs = REPLAY_RUNS};
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") != 0) {
      fprintf(stderr, "usage: bench_journal [--quick]\n");
      return -1;
    }
    *cfg = (config){.seconds = 0.2, .replay_runs = REPLAY_RUNS_QUICK};
  }
  return 0;
}

int main(int argc, char **argv) {
  config cfg;
  results res = {0};
  char dir[4096];
  const char *tmp = getenv("TMPDIR");
  if (parse_args(argc, argv, &cfg) != 0)
    return 2;
  snprintf(dir, sizeof dir, "%s/cairn-bench-XXXXXX", tmp ? tmp : "/tmp");
  if (mkdtemp(dir) == NULL) {
    fprintf(stderr, "bench_journal: mkdtemp %s: %s\n", dir,
            strerror(errno));
    return 1;
  }
  printf("cairn journal benchmark in %s\n", dir);
  fflush(stdout);
  int rc = append_phase(dir, &cfg, &res);
  if (rc == 0)
    rc = replay_phase(dir, &cfg, &res);
  bench_remove_tree(dir);
  if (rc != 0)
    return 1;
  print_result(&res);
  return 0;
}
