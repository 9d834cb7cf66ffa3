/*
 * cli_show.c — reading runs: `cairn status`, `result`, `show`, `runs`.
 *
 *   status ID   the run's status and progress
 *   result ID   its output (exit 0), its error (exit 7), or exit 4 while
 *               it runs
 *   show ID     the trace: steps in definition order, every attempt with
 *               input, output or error, and duration
 *   runs [--workflow W] [--status S] [--limit N]   newest first
 * ID is a run id or a workflow id (its current run).
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Opens the journal and finds run `id`: the common start of these
 * commands. Returns an exit status (0 = go on). */
static int open_run(cli_ctx *ctx, const char *id, cairn_journal **j,
                    cairn_reader **r, cairn_run_info *info) {
  int rc = cli_open(ctx, true, j);
  if (rc)
    return cairn_err_exit_code(rc);
  if ((rc = cairn_reader_begin(*j, r)) != 0) {
    rc = cli_fail(rc, *j, "reading the journal");
    cairn_journal_close(*j);
    return rc;
  }
  rc = cli_find_run(ctx, *j, *r, id, info);
  if (rc) {
    cairn_reader_end(*r);
    cairn_journal_close(*j);
    return cairn_err_exit_code(rc);
  }
  return 0;
}

static const char *one_id(int argc, char **argv) {
  return argc == 2 && argv[1][0] != '-' ? argv[1] : NULL;
}

/* --------------------------------------------------------------- status */

int cli_status(cli_ctx *ctx, int argc, char **argv) {
  const char *id = one_id(argc, argv);
  cairn_journal *j;
  cairn_reader *r;
  cairn_run_info info;
  cairn_run_view v;
  if (id == NULL)
    return cli_usage_error("usage: cairn %s ID", argv[0]);
  int rc = open_run(ctx, id, &j, &r, &info);
  if (rc)
    return rc;
  rc = cairn_reader_run_view(r, info.key, &v);
  int status = rc ? cli_fail(rc, j, "reading the run") : EXIT_OK;
  if (rc == 0 && ctx->json)
    cli_print_json(present_status(&info, &v));
  else if (rc == 0) {
    printf("%s  run %s of workflow %s: %u step(s) completed, %u attempt(s), "
           "%u events\n",
           cairn_run_status_name(v.status), info.run_id, info.workflow_id,
           v.n_completed, v.n_attempts, v.last_seq);
  }
  cairn_reader_end(r);
  cairn_journal_close(j);
  return status;
}

/* --------------------------------------------------------------- result */

int cli_result(cli_ctx *ctx, int argc, char **argv) {
  const char *id = one_id(argc, argv);
  cairn_journal *j;
  cairn_reader *r;
  cairn_run_info info;
  cairn_run_view v;
  cairn_event ev = {0};
  if (id == NULL)
    return cli_usage_error("usage: cairn result ID");
  int rc = open_run(ctx, id, &j, &r, &info);
  if (rc)
    return rc;
  rc = cairn_reader_run_view(r, info.key, &v);
  /* A failed run may carry a recomputed output (a single-step rerun):
   * its result is still its failure. */
  bool ok = rc == 0 && v.status == CAIRN_RUN_COMPLETED;
  uint32_t seq = rc ? 0 : ok ? v.output_seq : v.error_seq;
  if (rc == 0 && seq)
    rc = cairn_reader_event(r, info.key, seq, &ev);
  int status = rc ? cli_fail(rc, j, "reading the result") : EXIT_OK;
  if (rc == 0 && v.status == CAIRN_RUN_RUNNING) {
    fprintf(stderr, "cairn: run %s of workflow %s is still running; check "
                    "`cairn status %s`, or make sure a `cairn worker` runs "
                    "it\n", info.run_id, info.workflow_id, info.workflow_id);
    status = 4;
  }
  else if (rc == 0 && ok) {
    cJSON *doc;
    if (ctx->json && present_result(r, &info, &doc) == 0)
      cli_print_json(doc);
    else {
      printf("%.*s\n", (int)ev.output.len, ev.output.ptr ? ev.output.ptr
                                                         : "null");
    }
  }
  else if (rc == 0) {
    cairn_str m = ev.error_message.ptr ? ev.error_message : ev.reason;
    cJSON *doc;
    if (ctx->json && present_result(r, &info, &doc) == 0)
      cli_print_json(doc);
    fprintf(stderr, "cairn: run %s %s: %.*s\n", info.run_id,
            cairn_run_status_name(v.status), (int)m.len, m.ptr ? m.ptr : "");
    status = 7;
  }
  cairn_reader_end(r);
  cairn_journal_close(j);
  return status;
}

/* ----------------------------------------------------------------- show */

/* The text trace; --format json prints present_show's object. */
typedef struct show_ctx {
  cairn_reader *r;
  uint64_t key;
  bool run_final;  /* a running attempt of a finished run was stopped */
  bool llm;        /* the step shown is an llm step */
  const char *home; /* for the prices of llm models */
} show_ctx;

static int on_attempt(void *p, const cairn_attempt_view *a) {
  show_ctx *c = p;
  cairn_event start = {0}, end = {0};
  cairn_reader_event(c->r, c->key, a->start_seq, &start);
  if (a->end_seq)
    cairn_reader_event(c->r, c->key, a->end_seq, &end);
  const char *status = c->run_final && a->status == CAIRN_ATTEMPT_RUNNING
                           ? "stopped"
                           : cairn_attempt_status_name(a->status);
  printf("    attempt %u  %-9s %8.1f ms", a->attempt, status,
         (double)a->duration_us / 1e3);
  if (a->scored)
    printf("  score %.3g", a->score);
  if (start.input.ptr && start.input.len > 2)
    printf("  input %.*s", (int)(start.input.len > 100 ? 100
                                                      : start.input.len),
           start.input.ptr);
  putchar('\n');
  if (c->llm)
    cli_llm_print(c->home, &start, &end);
  if (end.type == CAIRN_EV_STEP_COMPLETED)
    printf("      output %.*s\n", (int)(end.output.len > 400
                                            ? 400 : end.output.len),
           end.output.ptr ? end.output.ptr : "");
  if (end.type == CAIRN_EV_STEP_FAILED)
    printf("      error  %.*s: %.*s\n", (int)end.error_code.len,
           end.error_code.ptr ? end.error_code.ptr : "",
           (int)end.error_message.len,
           end.error_message.ptr ? end.error_message.ptr : "");
  return 0;
}

static void show_step(show_ctx *c, const char *name) {
  cairn_step_view s;
  int rc = cairn_reader_step_view(c->r, c->key, name, &s);
  const char *status = rc ? "pending" : cairn_step_status_name(s.status);
  if (rc == 0 && c->run_final && (s.status == CAIRN_STEP_RUNNING ||
                                  s.status == CAIRN_STEP_WAITING))
    status = "stopped";
  printf("  %-24s %s%s%s\n", name, status,
         rc == 0 && s.reused ? " (reused)" : "",
         rc == 0 && s.stale ? " (stale: an upstream step was rerun)" : "");
  if (rc == 0)
    cairn_reader_attempts(c->r, c->key, name, on_attempt, c);
}

static void show_header(const cairn_run_info *info, const cairn_run_view *v,
                        const cairn_event *start, const cairn_event *out) {
  printf("workflow %s  run %s\nstatus   %s\n", info->workflow_id,
         info->run_id, cairn_run_status_name(v->status));
  if (start->origin_kind)
    printf("origin   %s of %.*s%s%.*s\n",
           cairn_origin_kind_name(start->origin_kind),
           (int)start->parent_run_id.len, start->parent_run_id.ptr,
           start->reason.ptr ? ": " : "", (int)start->reason.len,
           start->reason.ptr ? start->reason.ptr : "");
  printf("input    %.*s\n", (int)start->input.len,
         start->input.ptr ? start->input.ptr : "null");
  if (out->type && out->output.ptr)
    printf("output   %.*s\n", (int)out->output.len, out->output.ptr);
  if (out->type && out->error_message.ptr)
    printf("error    %.*s\n", (int)out->error_message.len,
           out->error_message.ptr);
  else if (out->type && out->reason.ptr) /* cancelled or terminated */
    printf("reason   %.*s\n", (int)out->reason.len, out->reason.ptr);
  printf("steps\n");
}

static int show_text(cairn_reader *r, const char *home,
                     const cairn_run_info *info) {
  cairn_run_view v;
  cairn_event start = {0}, out = {0};
  cairn_str def_text;
  int rc = cairn_reader_run_view(r, info->key, &v);
  if (rc == 0)
    rc = cairn_reader_event(r, info->key, 1, &start);
  uint32_t end = rc ? 0 : v.output_seq ? v.output_seq : v.error_seq;
  if (rc == 0 && end)
    rc = cairn_reader_event(r, info->key, end, &out);
  if (rc)
    return rc;
  show_header(info, &v, &start, &out);
  show_ctx c = {r, info->key,
                cairn_run_status_is_final(v.status) && v.rerun_seq == 0,
                false, home};
  cJSON *def = cairn_reader_definition(r, info->def_hash, &def_text) == 0
                   ? cJSON_ParseWithLength(def_text.ptr, def_text.len)
                   : NULL;
  const cJSON *it;
  cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(def, "steps")) {
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(it, "name");
    c.llm = present_llm_step(it);
    if (cJSON_IsString(name))
      show_step(&c, name->valuestring);
  }
  cJSON_Delete(def);
  return 0;
}

int cli_show(cli_ctx *ctx, int argc, char **argv) {
  const char *id = one_id(argc, argv);
  cairn_journal *j;
  cairn_reader *r;
  cairn_run_info info;
  cJSON *doc = NULL;
  if (id == NULL)
    return cli_usage_error("usage: cairn show ID [--format json]");
  int rc = open_run(ctx, id, &j, &r, &info);
  if (rc)
    return rc;
  rc = ctx->json ? present_show(r, ctx->home, &info, NULL, &doc)
                 : show_text(r, ctx->home, &info);
  int status = rc ? cli_fail(rc, j, "reading the run") : EXIT_OK;
  if (doc)
    cli_print_json(doc);
  cairn_reader_end(r);
  cairn_journal_close(j);
  return status;
}

/* ----------------------------------------------------------------- runs */

int cli_runs(cli_ctx *ctx, int argc, char **argv) {
  cairn_run_filter f = {.ns = ctx->ns};
  size_t limit = 20;
  for (int i = 1; i < argc; i++) {
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(argv[i], "--workflow") == 0 && v)
      f.workflow_id = argv[++i];
    else if (strcmp(argv[i], "--status") == 0 && v) {
      if ((f.status = cairn_run_status_from_name(argv[++i])) == 0)
        return cli_usage_error("--status takes running, completed, failed, "
                               "cancelled or terminated, not '%s'", v);
    }
    else if (strcmp(argv[i], "--limit") == 0 && v && atoi(v) > 0)
      limit = (size_t)atoi(argv[++i]);
    else
      return cli_usage_error("usage: cairn runs [--workflow W] [--status S]"
                             " [--limit N]");
  }
  cairn_journal *j;
  cairn_reader *r;
  int rc = cli_open(ctx, true, &j);
  if (rc)
    return cairn_err_exit_code(rc);
  cairn_run_info *runs = calloc(limit, sizeof *runs);
  size_t n = 0;
  rc = runs ? cairn_reader_begin(j, &r) : CAIRN_ENOMEM;
  bool reading = rc == 0; /* the entries read the snapshot too */
  if (reading)
    rc = cairn_reader_runs(r, &f, runs, limit, &n);
  int status = rc ? cli_fail(rc, j, "listing runs") : EXIT_OK;
  cJSON *arr = rc == 0 && ctx->json ? cJSON_CreateArray() : NULL;
  for (size_t i = 0; rc == 0 && i < n; i++) {
    char t[40];
    present_time(runs[i].created_us, t, sizeof t);
    if (arr) {
      cJSON_AddItemToArray(arr, present_run_entry(r, &runs[i]));
    }
    else {
      printf("%s  %-10s  %s  %s\n", runs[i].run_id,
             cairn_run_status_name(runs[i].status), t,
             runs[i].workflow_id);
    }
  }
  if (arr) {
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddItemToObject(doc, "runs", arr);
    cli_print_json(doc);
  }
  if (reading)
    cairn_reader_end(r);
  free(runs);
  cairn_journal_close(j);
  return status;
}
