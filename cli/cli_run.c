/*
 * cli_run.c — `cairn run`, `cairn start` and `cairn worker`.
 *
 *   cairn run FILE|NAME [--input JSON|@FILE] [--id WORKFLOW_ID] [--detach]
 *       Starts a run and executes it in this process (foreground): on a
 *       terminal, a line per step as it starts and ends. Exit 0 when the
 *       run completes, 7 when it fails (or is cancelled or terminated).
 *       An existing workflow id starts nothing: the command attaches to
 *       its current run (executes it if no live worker holds it, else
 *       waits for it) and reports its outcome.
 *   cairn start ...         = run --detach: records the run, prints the
 *       workflow id and run id, and leaves it to a worker.
 *   cairn worker [--drain] [--concurrency N]
 *       Claims runs (new ones, and those of workers that died) and
 *       executes them until SIGINT/SIGTERM; with --drain, until no run can
 *       make progress.
 */
#include "cli.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------ progress */

static void on_step(void *ctx, const cairn_step_note *n) {
  (void)ctx;
  const char *status = cairn_step_status_name(n->status);
  if (n->status == CAIRN_STEP_RUNNING)
    fprintf(stderr, "  ▸ %-24s running (attempt %u)\n", n->step,
            n->attempt);
  else if (n->status == CAIRN_STEP_COMPLETED)
    fprintf(stderr, "  ✓ %-24s completed in %.1f ms\n", n->step,
            (double)n->duration_us / 1e3);
  else
    fprintf(stderr, "  ✗ %-24s %s: %s\n", n->step, status,
            n->error ? n->error : "");
}

/* Prints the outcome of run `run_id`; returns the exit status. */
static int report(const cli_ctx *ctx, cairn_journal *j, const char *run_id) {
  cairn_reader *r;
  cairn_run_info info;
  cairn_run_view v;
  cairn_event ev = {0}, err = {0};
  if (cairn_reader_begin(j, &r) != 0)
    return cli_fail(CAIRN_EIO, j, "reading the outcome");
  int rc = cairn_reader_run_by_id(r, run_id, &info);
  if (rc == 0)
    rc = cairn_reader_run_view(r, info.key, &v);
  if (rc == 0 && v.output_seq)
    rc = cairn_reader_event(r, info.key, v.output_seq, &ev);
  if (rc == 0 && v.error_seq)
    rc = cairn_reader_event(r, info.key, v.error_seq, &err);
  if (rc) {
    cairn_reader_end(r);
    return cli_fail(rc, j, "reading the outcome");
  }
  double ms = (double)((v.ended_us ? v.ended_us : v.updated_us) -
                       v.started_us) / 1e3;
  if (ctx->json) {
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "workflow_id", info.workflow_id);
    cJSON_AddStringToObject(doc, "run_id", info.run_id);
    cJSON_AddStringToObject(doc, "status", cairn_run_status_name(v.status));
    if (ev.output.ptr)
      present_add_json_text(doc, "output", ev.output);
    else
      cJSON_AddNullToObject(doc, "output");
    if (err.type) {
      cJSON *e = cJSON_AddObjectToObject(doc, "error");
      present_add_str(e, "code", err.error_code);
      present_add_str(e, "message", err.error_message.ptr ? err.error_message
                                                      : err.reason);
    }
    else {
      cJSON_AddNullToObject(doc, "error");
    }
    cJSON_AddNumberToObject(doc, "duration_ms", ms);
    cli_print_json(doc);
  }
  else {
    printf("workflow %s\nrun      %s\nstatus   %s in %.1f ms\n",
           info.workflow_id, info.run_id, cairn_run_status_name(v.status),
           ms);
    if (ev.output.ptr)
      printf("output   %.*s\n", (int)ev.output.len, ev.output.ptr);
    if (err.type) {
      cairn_str m = err.error_message.ptr ? err.error_message : err.reason;
      printf("error    %.*s\n", (int)m.len, m.ptr ? m.ptr : "");
    }
    printf("trace    cairn show %s    history: cairn history %s\n",
           info.workflow_id, info.run_id);
  }
  cairn_reader_end(r);
  if (v.status == CAIRN_RUN_COMPLETED)
    return EXIT_OK;
  return cairn_run_status_is_final(v.status) ? 7 : 4;
}

static cairn_engine *g_engine; /* for the signal handler */
static volatile sig_atomic_t g_interrupted;

/* Waits for a run another worker executes; returns its final status. */
static int wait_for(cairn_journal *j, const char *run_id) {
  while (!g_interrupted) {
    cairn_reader *r;
    cairn_run_info info;
    if (cairn_reader_begin(j, &r) != 0)
      return -1;
    int rc = cairn_reader_run_by_id(r, run_id, &info);
    cairn_reader_end(r);
    if (rc)
      return -1;
    if (cairn_run_status_is_final(info.status))
      return info.status;
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  fprintf(stderr, "cairn: stopped waiting; run %s goes on in its worker\n",
          run_id);
  return -1;
}


static void on_signal(int sig) {
  (void)sig;
  g_interrupted = 1;
  if (g_engine)
    cairn_engine_stop(g_engine);
}

static void trap_signals(cairn_engine *e) {
  struct sigaction sa = {0};
  g_engine = e;
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

/* ------------------------------------------------------------- commands */

typedef struct run_args {
  const char *target;
  const char *input;
  const char *id;
  const char *partition;
  bool detach;
} run_args;

static int parse_run(int argc, char **argv, run_args *a) {
  for (int i = 1; i < argc; i++) {
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(argv[i], "--detach") == 0)
      a->detach = true;
    else if (strcmp(argv[i], "--input") == 0 && v)
      a->input = argv[++i];
    else if (strcmp(argv[i], "--id") == 0 && v)
      a->id = argv[++i];
    else if (strcmp(argv[i], "--partition") == 0 && v)
      a->partition = argv[++i];
    else if (argv[i][0] == '-')
      return cli_usage_error("%s: unknown option or missing value: %s",
                             argv[0], argv[i]);
    else if (a->target == NULL)
      a->target = argv[i];
    else
      return cli_usage_error("%s takes one FILE or NAME", argv[0]);
  }
  if (a->target == NULL)
    return cli_usage_error("usage: cairn %s FILE|NAME [--input JSON|@FILE] "
                           "[--id WORKFLOW_ID] [--partition KEY]%s", argv[0],
                           strcmp(argv[0], "run") == 0 ? " [--detach]" : "");
  return 0;
}

/* A definition file when `target` names a file, else a registered name. */
static bool is_file(const char *target) {
  return access(target, F_OK) == 0 || strchr(target, '/') ||
         strstr(target, ".json");
}

static int print_started(const cli_ctx *ctx, const cairn_start_result *s) {
  if (ctx->json) {
    cli_print_json(present_started(s));
  }
  else {
    printf("workflow %s\nrun      %s%s\n", s->workflow_id, s->run_id,
           s->existed ? "  (the workflow existed: nothing new started)"
                      : "");
  }
  return EXIT_OK;
}

static int start_and_run(cli_ctx *ctx, const run_args *a) {
  char *def = NULL, *input = NULL;
  cairn_engine *e;
  int status = EXIT_OK;
  if (is_file(a->target) &&
      (def = cli_read_definition(a->target, &status)) == NULL)
    return status;
  if (a->input && a->input[0] == '@' &&
      (input = cli_read_file(a->input + 1)) == NULL) {
    free(def);
    return 3;
  }
  int rc = cli_engine_open(ctx, 0, &e);
  cairn_start_request req = {.definition = def,
                             .name = def ? NULL : a->target,
                             .input = input ? input : a->input,
                             .workflow_id = a->id, .execute = !a->detach,
                             .partition = a->partition};
  cairn_start_result s;
  if (rc == 0 && (rc = cairn_engine_start(e, &req, &s)) != 0)
    fprintf(stderr, "cairn: %s\n", cairn_engine_errmsg(e));
  if (rc == 0 && a->detach)
    status = print_started(ctx, &s);
  else if (rc == 0) {
    if (isatty(STDERR_FILENO) && !ctx->json)
      cairn_engine_observe(e, on_step, NULL);
    if (s.existed && !ctx->json)
      fprintf(stderr, "cairn: workflow %s exists; attaching to its run "
                      "%s\n", s.workflow_id, s.run_id);
    trap_signals(e);
    rc = cairn_engine_work(e, CAIRN_WORK_RUN, s.run_id);
    if (rc == CAIRN_ECONFLICT) /* a live worker runs it: wait */
      rc = wait_for(cairn_engine_journal(e), s.run_id) < 0 ? CAIRN_EIO : 0;
    if (rc)
      fprintf(stderr, "cairn: %s\n", cairn_engine_errmsg(e));
    else
      status = report(ctx, cairn_engine_journal(e), s.run_id);
  }
  g_engine = NULL;
  cairn_engine_close(e);
  free(def);
  free(input);
  return rc ? cairn_err_exit_code(rc) : status;
}

int cli_run(cli_ctx *ctx, int argc, char **argv) {
  run_args a = {0};
  int rc = parse_run(argc, argv, &a);
  if (rc)
    return rc;
  if (strcmp(argv[0], "start") == 0)
    a.detach = true;
  return start_and_run(ctx, &a);
}

int cli_worker(cli_ctx *ctx, int argc, char **argv) {
  bool drain = false;
  size_t conc = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--drain") == 0)
      drain = true;
    else if (strcmp(argv[i], "--concurrency") == 0 && i + 1 < argc &&
             atoi(argv[i + 1]) > 0)
      conc = (size_t)atoi(argv[++i]);
    else
      return cli_usage_error("usage: cairn worker [--drain] "
                             "[--concurrency N] (N > 0)");
  }
  cairn_engine *e;
  int rc = cli_engine_open(ctx, conc, &e);
  if (rc)
    return cairn_err_exit_code(rc);
  trap_signals(e);
  /* A journal that fails (PostgreSQL gone, a disk error) stops the
   * engine: it let go of its runs and recorded nothing half-done. A
   * worker that runs forever waits, with backoff, and works again; the
   * journal reconnects at its next transaction, and the runs are claimed
   * afresh (their leases expire if they could not be released). */
  for (int64_t wait_ms = 100;; wait_ms = wait_ms < 5000 ? wait_ms * 2 : 10000) {
    rc = cairn_engine_work(e, drain ? CAIRN_WORK_DRAIN : CAIRN_WORK_FOREVER,
                           NULL);
    if (rc != CAIRN_EIO || drain || g_interrupted)
      break;
    fprintf(stderr, "cairn: worker paused: %s; trying again in %lld ms\n",
            cairn_engine_errmsg(e), (long long)wait_ms);
    for (int64_t t = 0; t < wait_ms && !g_interrupted; t += 50)
      usleep(50 * 1000);
    if (g_interrupted) {
      rc = 0;
      break;
    }
  }
  if (rc)
    fprintf(stderr, "cairn: worker stopped: %s\n", cairn_engine_errmsg(e));
  g_engine = NULL;
  cairn_engine_close(e);
  return cairn_err_exit_code(rc);
}
