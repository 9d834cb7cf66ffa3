/*
 * engine_pg.c — the engine on a PostgreSQL journal: steps per second with
 * 1, 2 and 4 worker processes sharing 32 runs in flight, one step's
 * latency, and how soon an idle worker takes a new run.
 *
 *   bench_engine_pg [--quick]
 *
 * The server: $CAIRN_BENCH_PG (a postgresql://.../postgres URL of a
 * server whose databases this may create), else a private one started by
 * tests/pg/pg.sh in a temporary folder and stopped at the end (fsync on,
 * synchronous_commit on: every commit is durable). Each phase has a
 * database of its own. Steps are native no-op steps (kind "noop"),
 * chained ten to a workflow: the workload of shared/peers (DBOS writes
 * each step in its own transaction; cairn commits a loop turn's events in
 * one).
 *
 * Phases.
 *  1. tput_wN (N = 1, 2, 4): TPUT_RUNS workflows of 10 steps are recorded
 *     (not executed) by this process; then N worker processes (fork; each
 *     its own engine and connections, max_runs = 32 / N, so 32 runs are in
 *     flight in all) drain them with CAIRN_WORK_DRAIN, claiming with SKIP
 *     LOCKED as runs finish. Figure: completed steps (read back from the
 *     journal: every run must have completed) over the wall time from the
 *     first fork to the last worker's exit.
 *  2. seq: one run of SEQ_STEPS chained steps in this process
 *     (CAIRN_WORK_RUN); the interval between consecutive completion notes
 *     is one whole step (its start commit, the call, its completion
 *     commit). Figure: p50 and p99.
 *  3. claim: one idle worker process (CAIRN_WORK_FOREVER, woken by
 *     LISTEN/NOTIFY); this process records CLAIM_RUNS one-step runs, one
 *     every 20 ms. Figure: per run, the time from its run.started to its
 *     step.started (both stamped by the engines on this host's clock),
 *     p50 and p99.
 *
 * Ends with
 *   RESULT bench=engine_pg steps_per_s_w1=.. steps_per_s_w2=..
 *     steps_per_s_w4=.. seq_step_p50_us=.. seq_step_p99_us=..
 *     claim_latency_p50_ms=.. claim_latency_p99_ms=..
 */
#include <cairn/cairn.h>
#include <libpq-fe.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"

#define STEPS 10
#define IN_FLIGHT 32
static uint32_t TPUT_RUNS = 640, SEQ_STEPS = 200, CLAIM_RUNS = 60;

static char server[512]; /* .../postgres */
static char pg_dir[4200]; /* the private server's state folder, or "" */

static void noop_fn(void *ctx, const cairn_native_call *call,
                    cairn_native_result *res) {
  (void)ctx;
  (void)call;
  res->output = NULL;
}

static char *chain_def(const char *name, uint32_t n) {
  char *s = malloc(64 + (size_t)n * 48), *p = s;
  if (s == NULL)
    return NULL;
  p += sprintf(p, "{\"name\":\"%s\",\"steps\":[", name);
  for (uint32_t i = 0; i < n; i++)
    p += sprintf(p, "%s{\"name\":\"s%u\",\"kind\":\"noop\"}", i ? "," : "",
                 i + 1);
  strcpy(p, "]}");
  return s;
}

/* A fresh database on the server; its URL in url. */
static int new_db(const char *name, char *url, size_t len) {
  char sql[200];
  PGconn *c = PQconnectdb(server);
  if (PQstatus(c) != CONNECTION_OK) {
    fprintf(stderr, "bench_engine_pg: %s: %s", server, PQerrorMessage(c));
    PQfinish(c);
    return -1;
  }
  snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
  PQclear(PQexec(c, sql));
  snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
  PGresult *r = PQexec(c, sql);
  int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  PQclear(r);
  PQfinish(c);
  if (!ok)
    return -1;
  snprintf(url, len, "%.*s/%s", (int)(strrchr(server, '/') - server), server,
           name);
  return 0;
}

static cairn_engine *open_engine(const char *home, const char *url,
                                 size_t max_runs) {
  cairn_engine_options o = {.home = home, .journal = url,
                            .max_runs = max_runs};
  cairn_engine *e = NULL;
  char err[512] = "";
  int rc = cairn_engine_open(&o, &e, err, sizeof err);
  if (rc == 0)
    rc = cairn_engine_register_kind(e, "noop", noop_fn, NULL);
  if (rc) {
    fprintf(stderr, "bench_engine_pg: opening an engine on %s: %s\n", url,
            *err ? err : cairn_strerror(rc));
    return NULL;
  }
  return e;
}

static int record_runs(const char *home, const char *url, const char *name,
                       uint32_t steps, uint32_t n, int spacing_ms) {
  cairn_engine *e = open_engine(home, url, 1);
  char *def = chain_def(name, steps);
  if (e == NULL || def == NULL)
    return -1;
  int rc = cairn_engine_register(e, def, strlen(def), NULL, NULL, NULL);
  cairn_start_request req = {.name = name, .execute = false,
                             .actor = "bench"};
  cairn_start_result out;
  for (uint32_t i = 0; rc == 0 && i < n; i++) {
    rc = cairn_engine_start(e, &req, &out);
    if (spacing_ms)
      usleep((useconds_t)spacing_ms * 1000);
  }
  if (rc)
    fprintf(stderr, "bench_engine_pg: recording runs: %s\n",
            cairn_engine_errmsg(e));
  free(def);
  cairn_engine_close(e);
  return rc ? -1 : 0;
}

static pid_t worker(const char *home, const char *url, size_t max_runs,
                    int mode) {
  pid_t pid = fork();
  if (pid != 0)
    return pid;
  cairn_engine *e = open_engine(home, url, max_runs);
  if (e == NULL)
    _exit(2);
  int rc = cairn_engine_work(e, mode, NULL);
  cairn_engine_close(e);
  _exit(rc ? 3 : 0);
}

/* Completed steps in the journal; -1 when a run did not complete. */
static long completed_steps(const char *url) {
  cairn_journal *j;
  cairn_reader *r;
  cairn_journal_options o = {.read_only = true};
  char err[512];
  if (cairn_journal_open(url, &o, &j, err, sizeof err) != 0)
    return -1;
  cairn_journal_stats st;
  long steps = -1;
  if (cairn_journal_stats_get(j, &st) == 0 && cairn_reader_begin(j, &r) == 0) {
    if (st.runs_by_status[CAIRN_RUN_COMPLETED] == st.runs) {
      cairn_run_info info;
      steps = 0;
      for (uint64_t k = 1; k <= st.runs; k++) {
        cairn_run_view v;
        if (cairn_reader_run_by_key(r, k, &info) == 0 &&
            cairn_reader_run_view(r, k, &v) == 0)
          steps += (long)v.n_completed;
      }
    }
    cairn_reader_end(r);
  }
  cairn_journal_close(j);
  return steps;
}

static double tput(const char *home, int workers) {
  char name[32], url[640];
  snprintf(name, sizeof name, "bench_tput_w%d", workers);
  if (new_db(name, url, sizeof url) != 0 ||
      record_runs(home, url, "tput", STEPS, TPUT_RUNS, 0) != 0)
    return -1;
  pid_t pids[8];
  double t0 = bench_now_s();
  for (int i = 0; i < workers; i++)
    pids[i] = worker(home, url, IN_FLIGHT / (size_t)workers,
                     CAIRN_WORK_DRAIN);
  int bad = 0;
  for (int i = 0; i < workers; i++) {
    int st;
    waitpid(pids[i], &st, 0);
    bad |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
  }
  double wall = bench_now_s() - t0;
  long steps = completed_steps(url);
  if (bad || steps != (long)TPUT_RUNS * STEPS) {
    fprintf(stderr, "bench_engine_pg: %d workers completed %ld of %u steps\n",
            workers, steps, TPUT_RUNS * STEPS);
    return -1;
  }
  printf("tput_w%d  %u runs x %d steps, %d worker(s), %d in flight: "
         "%.2f s, %.0f steps/s\n", workers, TPUT_RUNS, STEPS, workers,
         IN_FLIGHT, wall, (double)steps / wall);
  return (double)steps / wall;
}

typedef struct seq_watch {
  bench_samples done_at;
} seq_watch;

static void on_note(void *ctx, const cairn_step_note *n) {
  if (n->status == CAIRN_STEP_COMPLETED)
    bench_samples_add(&((seq_watch *)ctx)->done_at, bench_now_s());
}

static int seq(const char *home, double *p50, double *p99) {
  char url[640];
  if (new_db("bench_seq", url, sizeof url) != 0)
    return -1;
  cairn_engine *e = open_engine(home, url, 1);
  char *def = chain_def("seq", SEQ_STEPS);
  seq_watch w = {0};
  if (e == NULL || def == NULL)
    return -1;
  int rc = cairn_engine_register(e, def, strlen(def), NULL, NULL, NULL);
  cairn_engine_observe(e, on_note, &w);
  cairn_start_request req = {.name = "seq", .execute = true, .actor = "b"};
  cairn_start_result out;
  if (rc == 0)
    rc = cairn_engine_start(e, &req, &out);
  if (rc == 0)
    rc = cairn_engine_work(e, CAIRN_WORK_RUN, out.run_id);
  free(def);
  if (rc || w.done_at.n != SEQ_STEPS) {
    fprintf(stderr, "bench_engine_pg: seq: %s\n", cairn_engine_errmsg(e));
    cairn_engine_close(e);
    return -1;
  }
  cairn_engine_close(e);
  size_t n = w.done_at.n - 1;
  double *d = malloc(n * sizeof *d);
  for (size_t i = 0; i < n; i++)
    d[i] = (w.done_at.v[i + 1] - w.done_at.v[i]) * 1e6;
  *p50 = bench_percentile(d, n, 0.50);
  *p99 = bench_percentile(d, n, 0.99);
  printf("seq       one run of %u steps: step p50 %.0f us, p99 %.0f us\n",
         SEQ_STEPS, *p50, *p99);
  free(d);
  free(w.done_at.v);
  return 0;
}

static int claim(const char *home, double *p50, double *p99) {
  char url[640];
  if (new_db("bench_claim", url, sizeof url) != 0)
    return -1;
  /* The database needs its tables before the worker opens it. */
  if (record_runs(home, url, "one", 1, 0, 0) != 0)
    return -1;
  pid_t pid = worker(home, url, IN_FLIGHT, CAIRN_WORK_FOREVER);
  usleep(500 * 1000); /* let it open, listen and idle */
  if (record_runs(home, url, "one", 1, CLAIM_RUNS, 20) != 0)
    return -1;
  /* Wait until every run has completed, then stop the worker. */
  for (int i = 0; i < 200 && completed_steps(url) != (long)CLAIM_RUNS; i++)
    usleep(50 * 1000);
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  cairn_journal *j;
  cairn_reader *r;
  cairn_journal_options o = {.read_only = true};
  char err[512];
  double d[256];
  size_t n = 0;
  if (cairn_journal_open(url, &o, &j, err, sizeof err) != 0 ||
      cairn_reader_begin(j, &r) != 0)
    return -1;
  for (uint64_t k = 1; k <= CLAIM_RUNS && n < 256; k++) {
    cairn_history *it;
    cairn_event ev;
    int64_t started = 0;
    if (cairn_reader_history(r, k, 1, &it) != 0)
      continue;
    while (cairn_history_next(it, &ev) == 1) {
      if (ev.type == CAIRN_EV_RUN_STARTED)
        started = ev.time_us;
      else if (ev.type == CAIRN_EV_STEP_STARTED && started) {
        d[n++] = (double)(ev.time_us - started) / 1000.0;
        break;
      }
    }
    cairn_history_close(it);
  }
  cairn_reader_end(r);
  cairn_journal_close(j);
  if (n != CLAIM_RUNS) {
    fprintf(stderr, "bench_engine_pg: claim: %zu of %u runs started\n", n,
            CLAIM_RUNS);
    return -1;
  }
  *p50 = bench_percentile(d, n, 0.50);
  *p99 = bench_percentile(d, n, 0.99);
  printf("claim     %u runs recorded 20 ms apart, one idle worker: "
         "run.started to step.started p50 %.1f ms, p99 %.1f ms\n",
         CLAIM_RUNS, *p50, *p99);
  return 0;
}

/* A private server (tests/pg/pg.sh) unless $CAIRN_BENCH_PG names one. */
static int server_up(const char *dir) {
  const char *given = getenv("CAIRN_BENCH_PG");
  if (given && *given) {
    snprintf(server, sizeof server, "%s", given);
    return 0;
  }
  char cmd[8600];
  snprintf(pg_dir, sizeof pg_dir, "%s/pg", dir);
  snprintf(cmd, sizeof cmd, "PG_OWNER_PID=%ld bash %s/tests/pg/pg.sh start "
           "%s", (long)getpid(), CAIRN_SOURCE_DIR, pg_dir);
  FILE *p = popen(cmd, "r");
  if (p == NULL || fgets(server, sizeof server, p) == NULL) {
    fprintf(stderr, "bench_engine_pg: could not start PostgreSQL (%s); "
            "install it (scripts/deps.sh --test) or set CAIRN_BENCH_PG\n",
            cmd);
    if (p)
      pclose(p);
    return -1;
  }
  pclose(p);
  server[strcspn(server, "\n")] = '\0';
  return 0;
}

static void server_down(void) {
  if (pg_dir[0]) {
    char cmd[8600];
    snprintf(cmd, sizeof cmd, "bash %s/tests/pg/pg.sh stop %s >/dev/null",
             CAIRN_SOURCE_DIR, pg_dir);
    if (system(cmd) != 0)
      fprintf(stderr, "bench_engine_pg: stopping PostgreSQL failed\n");
  }
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--quick") == 0) {
    TPUT_RUNS = 96;
    SEQ_STEPS = 40;
    CLAIM_RUNS = 10;
  }
  char dir[4096], home[4200];
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/cairn-bench-pg-XXXXXX", tmp ? tmp : "/tmp");
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  snprintf(home, sizeof home, "%s/home", dir);
  if (server_up(dir) != 0)
    return 1;
  printf("PostgreSQL at %s\n", server);
  double w1 = tput(home, 1), w2 = tput(home, 2), w4 = tput(home, 4);
  double s50 = -1, s99 = -1, c50 = -1, c99 = -1;
  int rc = w1 < 0 || w2 < 0 || w4 < 0;
  rc |= seq(home, &s50, &s99) != 0;
  rc |= claim(home, &c50, &c99) != 0;
  server_down();
  bench_remove_tree(dir);
  if (rc)
    return 1;
  printf("RESULT bench=engine_pg steps_per_s_w1=%.0f steps_per_s_w2=%.0f "
         "steps_per_s_w4=%.0f seq_step_p50_us=%.0f seq_step_p99_us=%.0f "
         "claim_latency_p50_ms=%.1f claim_latency_p99_ms=%.1f\n",
         w1, w2, w4, s50, s99, c50, c99);
  return 0;
}
