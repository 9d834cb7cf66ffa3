/*
 * cli_fork.c — derived runs (docs/forks.md):
 *
 *   cairn reset ID --step NAME [--no-reapply-signals]
 *   cairn rerun RUN --from-step NAME [overrides] [--allow-mutations]
 *   cairn rerun RUN --step NAME [overrides] [--allow-mutations]
 *   cairn replay RUN [--definition original|current|FILE] [--map OLD=NEW]...
 *                    [--save-mapping] [--reuse] [overrides]
 *                    [--allow-mutations]
 * and on each: [--reason TEXT] [--request-id KEY] [--detach].
 * Overrides: --set-input PATH=JSON, --prompt STEP=TEXT|@FILE,
 *            --model STEP=PROVIDER:MODEL, --param STEP.FIELD=JSON; a new
 *            prompt by artifact: --prompt-artifact ID --prompt-hash
 *            sha256:HEX [--prompt-step STEP] (docs/prompts.md).
 *
 * The command prints what it created, says loudly which mutating steps
 * will be dry-run and which will really run, and then (unless --detach)
 * executes the new run here, like `cairn run`: exit 0 when it completes,
 * 7 when it fails. A single-step rerun always executes here.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LIST 64

typedef struct fork_args {
  cairn_fork_request req;
  const char *overrides[MAX_LIST];
  const char *maps[MAX_LIST];
  char *owned[MAX_LIST]; /* override strings built here */
  size_t n_owned;
  char *def_file;        /* --definition FILE's text */
  bool detach;
} fork_args;

static int add_override(fork_args *a, const char *kind, const char *v) {
  if (a->req.n_overrides == MAX_LIST || a->n_owned == MAX_LIST)
    return cli_usage_error("too many overrides (at most %d)", MAX_LIST);
  const char *eq = strchr(v, '=');
  char *file = NULL;
  if (eq && strcmp(kind, "prompt") == 0 && eq[1] == '@') {
    if ((file = cli_read_file(eq + 2)) == NULL)
      return 3;
  }
  size_t n = strlen(kind) + strlen(v) + (file ? strlen(file) : 0) + 2;
  char *o = malloc(n);
  if (o == NULL) {
    free(file);
    return 1;
  }
  if (file)
    snprintf(o, n, "%s:%.*s=%s", kind, (int)(eq - v), v, file);
  else
    snprintf(o, n, "%s:%s", kind, v);
  free(file);
  a->owned[a->n_owned++] = o;
  a->overrides[a->req.n_overrides++] = o;
  return 0;
}

/* The field a string option (--step VALUE, ...) sets, or NULL. */
static const char **string_option(fork_args *a, const char *o) {
  const struct {
    const char *opt;
    const char **dst;
  } opts[] = {{"--step", &a->req.step},
              {"--reason", &a->req.reason},
              {"--request-id", &a->req.request_id},
              {"--definition", &a->req.definition},
              {"--prompt-artifact", &a->req.prompt_artifact},
              {"--prompt-hash", &a->req.prompt_hash},
              {"--prompt-step", &a->req.prompt_step}};
  for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
    if (strcmp(o, opts[i].opt) == 0)
      return opts[i].dst;
  return NULL;
}

/* The flag a switch (--detach, ...) sets, or NULL. */
static bool *flag_option(fork_args *a, const char *o) {
  const struct {
    const char *opt;
    bool *dst;
  } opts[] = {{"--detach", &a->detach},
              {"--no-reapply-signals", &a->req.no_reapply_signals},
              {"--allow-mutations", &a->req.allow_mutations},
              {"--allow-stale-assets", &a->req.allow_stale_assets},
              {"--save-mapping", &a->req.save_mapping},
              {"--reuse", &a->req.reuse}};
  for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
    if (strcmp(o, opts[i].opt) == 0)
      return opts[i].dst;
  return NULL;
}

/* Parses the options shared by reset, rerun and replay. */
static int parse(int argc, char **argv, fork_args *a) {
  static const struct {
    const char *opt, *kind;
  } ov[] = {{"--set-input", "input"}, {"--param", "param"},
            {"--prompt", "prompt"}, {"--model", "model"}};
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    const char **str = string_option(a, o);
    bool *flag = flag_option(a, o);
    bool takes = true;
    int rc = 0;
    if (str && v)
      *str = v;
    else if (strcmp(o, "--from-step") == 0 && v) {
      a->req.step = v;
      a->req.kind = CAIRN_FORK_RERUN_FROM;
    }
    else if (strcmp(o, "--map") == 0 && v && a->req.n_maps < MAX_LIST)
      a->maps[a->req.n_maps++] = v;
    else if (flag) {
      *flag = true;
      takes = false;
    }
    else if (o[0] != '-' && a->req.id == NULL) {
      a->req.id = o;
      takes = false;
    }
    else {
      size_t k = 0;
      while (k < 4 && strcmp(o, ov[k].opt) != 0)
        k++;
      if (k == 4 || v == NULL)
        return cli_usage_error("%s: unknown option or missing value: %s;"
                               " see `cairn help`", argv[0], o);
      rc = add_override(a, ov[k].kind, v);
    }
    if (rc)
      return rc;
    i += takes;
  }
  if (a->req.id == NULL)
    return cli_usage_error("%s needs a run or workflow id", argv[0]);
  return 0;
}

/* Prints what was created and the mutation plan (loudly, on stderr, before
 * anything runs). */
static void announce(const cli_ctx *ctx, const char *verb,
                     const fork_args *a, const cairn_fork_result *r) {
  if (r->dry_run)
    fprintf(stderr, "cairn: DRY-RUN (recorded from the source run, not "
                    "performed): %s\n", r->dry_run);
  if (r->for_real)
    fprintf(stderr, "cairn: WILL REALLY RUN (mutating): %s\n", r->for_real);
  if (ctx->json)
    return;
  printf("workflow %s\nrun      %s\n%-8s %s %s%s%s\n", r->workflow_id,
         r->run_id, verb,
         a->req.kind == CAIRN_FORK_RERUN_STEP ? "in run" : "of",
         r->parent_run_id, r->step[0] ? " at step " : "", r->step);
  if (a->req.reason)
    printf("reason   %s\n", a->req.reason);
  if (r->repeated)
    printf("(request id %s was used before: this is its first result; "
           "nothing new was done)\n", a->req.request_id);
}

/* A single-step rerun's own result: the step's newest attempt, added to
 * `doc` (or printed). Its exit status is the attempt's: the run around it
 * keeps its status whatever the attempt did (a failed run stays failed
 * when the step now succeeds; a completed one stays completed when the new
 * attempt fails, which must not pass for success). */
static int attempt_outcome(cairn_reader *r, uint64_t key, const char *step,
                           cJSON *doc) {
  cairn_step_view sv;
  cairn_event ev = {0};
  if (cairn_reader_step_view(r, key, step, &sv) != 0 ||
      sv.latest.attempt == 0)
    return 1;
  bool failed = sv.latest.status != CAIRN_ATTEMPT_COMPLETED;
  if (failed && sv.latest.end_seq)
    cairn_reader_event(r, key, sv.latest.end_seq, &ev);
  const char *st = cairn_attempt_status_name(sv.latest.status);
  if (doc) {
    cJSON *o = cJSON_AddObjectToObject(doc, "attempt");
    cJSON_AddStringToObject(o, "step", step);
    cJSON_AddNumberToObject(o, "attempt", sv.latest.attempt);
    cJSON_AddStringToObject(o, "status", st);
    if (ev.error_message.ptr)
      present_add_str(o, "error", ev.error_message);
    else
      cJSON_AddNullToObject(o, "error");
  }
  else {
    printf("attempt  %u of %s %s", sv.latest.attempt, step, st);
    if (ev.error_message.ptr)
      printf(": %.*s", (int)ev.error_message.len, ev.error_message.ptr);
    putchar('\n');
  }
  return failed ? 7 : 0;
}

/* Adds the run's status and output to `doc`; returns the exit status
 * (for a single-step rerun, `step`'s new attempt's). */
static int outcome(cairn_journal *j, const char *run_id, const char *step,
                   cJSON *doc) {
  cairn_reader *r;
  cairn_run_info info;
  cairn_run_view v;
  cairn_event ev = {0};
  if (cairn_reader_begin(j, &r) != 0)
    return 1;
  int rc = cairn_reader_run_by_id(r, run_id, &info);
  if (rc == 0)
    rc = cairn_reader_run_view(r, info.key, &v);
  if (rc == 0 && (v.output_seq || v.error_seq))
    rc = cairn_reader_event(r, info.key,
                            v.output_seq ? v.output_seq : v.error_seq, &ev);
  int status = rc ? 1 : v.status == CAIRN_RUN_COMPLETED ? 0
                    : cairn_run_status_is_final(v.status) ? 7
                                                          : 0;
  if (rc == 0 && doc) {
    cJSON_AddStringToObject(doc, "status", cairn_run_status_name(v.status));
    if (v.output_seq)
      present_add_json_text(doc, "output", ev.output);
    if (v.error_seq && !v.output_seq)
      present_add_str(doc, "error", ev.error_message.ptr ? ev.error_message
                                                     : ev.reason);
  }
  else if (rc == 0) {
    printf("status   %s\n", cairn_run_status_name(v.status));
    if (v.output_seq)
      printf("output   %.*s\n", (int)ev.output.len, ev.output.ptr);
    else if (ev.error_message.ptr)
      printf("error    %.*s\n", (int)ev.error_message.len,
             ev.error_message.ptr);
  }
  if (rc == 0 && step)
    status = attempt_outcome(r, info.key, step, doc);
  cairn_reader_end(r);
  return status;
}

/* The stale assets of a replay (a JSON array), on stderr: one line each,
 * "stale KEY [PARTITION] sha256:HASH (superseded by run R, ...)"; the
 * whole list as JSON with --format json. */
static void print_stale(const cli_ctx *ctx, const char *json,
                        const char *word) {
  cJSON *list = cJSON_Parse(json), *a;
  if (ctx->json) {
    fprintf(stderr, "%s\n", json);
    cJSON_Delete(list);
    return;
  }
  cJSON_ArrayForEach(a, list) {
    const cJSON *p = cJSON_GetObjectItem(a, "partition");
    char reasons[600];
    cli_stale_why(a, reasons, sizeof reasons);
    fprintf(stderr, "  %s %s%s%s%s sha256:%.12s (%s)\n", word,
            cJSON_GetObjectItem(a, "key")->valuestring, p ? " [" : "",
            p ? p->valuestring : "", p ? "]" : "",
            cJSON_GetObjectItem(a, "hash")->valuestring, reasons);
  }
  cJSON_Delete(list);
}

static int fork_cmd(cli_ctx *ctx, fork_args *a, const char *verb) {
  cairn_engine *e;
  cairn_fork_result r = {0};
  int rc = cli_engine_open_existing(ctx, 0, true, &e);
  if (rc)
    return cairn_err_exit_code(rc);
  a->req.overrides = a->overrides;
  a->req.maps = a->maps;
  a->req.execute = !a->detach;
  rc = cairn_engine_fork(e, &a->req, &r);
  if (rc) {
    fprintf(stderr, "cairn: %s: %s\n", verb, cairn_engine_errmsg(e));
    if (r.stale_assets) /* refused: every stale asset, one per line */
      print_stale(ctx, r.stale_assets, "stale");
    cairn_fork_result_free(&r);
    cairn_engine_close(e);
    return cairn_err_exit_code(rc);
  }
  if (r.stale_assets) {
    fprintf(stderr, "cairn: --allow-stale-assets: replaying onto stale "
                    "assets\n");
    print_stale(ctx, r.stale_assets, "allowed");
  }
  announce(ctx, verb, a, &r);
  int status = 0;
  if (!a->detach && !r.repeated) {
    rc = cairn_engine_work(e, CAIRN_WORK_RUN, r.run_id);
    if (rc) {
      fprintf(stderr, "cairn: %s\n", cairn_engine_errmsg(e));
      status = cairn_err_exit_code(rc);
    }
  }
  cJSON *doc = ctx->json ? present_forked(&r, verb, a->req.reason) : NULL;
  if (status == 0 && (!a->detach || r.repeated))
    status = outcome(cairn_engine_journal(e), r.run_id,
                     a->req.kind == CAIRN_FORK_RERUN_STEP ? a->req.step
                                                          : NULL,
                     doc);
  if (doc)
    cli_print_json(doc);
  cairn_fork_result_free(&r);
  cairn_engine_close(e);
  return status;
}

static void free_args(fork_args *a) {
  for (size_t i = 0; i < a->n_owned; i++)
    free(a->owned[i]);
  free(a->def_file);
}

int cli_fork(cli_ctx *ctx, int argc, char **argv) {
  fork_args a = {0};
  const char *verb = argv[0];
  int rc = parse(argc, argv, &a);
  if (rc == 0 && strcmp(verb, "reset") == 0) {
    a.req.kind = CAIRN_FORK_RESET;
    if (a.req.step == NULL)
      rc = cli_usage_error("usage: cairn reset ID --step NAME [--reason "
                           "TEXT] [--detach] [--no-reapply-signals]");
  }
  else if (rc == 0 && strcmp(verb, "rerun") == 0) {
    if (a.req.kind != CAIRN_FORK_RERUN_FROM)
      a.req.kind = CAIRN_FORK_RERUN_STEP;
    if (a.req.step == NULL)
      rc = cli_usage_error("usage: cairn rerun RUN (--from-step NAME | "
                           "--step NAME) [overrides] [--reason TEXT]");
    if (rc == 0 && a.req.kind == CAIRN_FORK_RERUN_STEP && a.detach)
      rc = cli_usage_error("a single-step rerun runs here; drop --detach");
  }
  else if (rc == 0) {
    a.req.kind = CAIRN_FORK_REPLAY;
    const char *d = a.req.definition;
    if (d && strcmp(d, "original") != 0 && strcmp(d, "current") != 0) {
      if ((a.def_file = cli_read_definition(d, &rc)) == NULL && rc == 0)
        rc = 3;
      a.req.definition = a.def_file;
    }
  }
  if (rc == 0)
    rc = fork_cmd(ctx, &a, verb);
  free_args(&a);
  return rc;
}
