/*
 * cli_backtest.c — `cairn backtest`: replay finished runs under a change
 * and compare their scores (docs/backtest.md).
 *
 *   cairn backtest (--runs R1,R2,... | --workflow NAME [--last N])
 *                  [--set-input PATH=JSON] [--param STEP.FIELD=JSON]
 *                  [--prompt STEP=TEXT|@FILE] [--model STEP=PROVIDER:MODEL]
 *                  [--definition original|current|FILE] [--allow-mutations]
 *                  [--concurrency N] [--pass-score X] [--reason TEXT]
 *
 * Steps:
 *   1. resolve the source runs: the ids given (each must exist, else
 *      exit 3, be in the namespace, else 5, and have finished, else 4),
 *      or the newest N finished runs whose definition is named NAME, one
 *      per workflow id (replays excluded: they are experiments, not the
 *      workflow's history);
 *   2. score them as they are ("before");
 *   3. check the fork rate limit for the whole batch first, so a backtest
 *      never stops half-way for it (exit 6, nothing created);
 *   4. fork one replay per source (not executed yet; reason "backtest";
 *      mutating steps dry-run unless allowed). If a fork fails, the
 *      replays made so far are cancelled and the command exits with the
 *      fork's status;
 *   5. execute the replays here, at most --concurrency at once
 *      (cairn_engine_work_runs: a replay a worker picked up meanwhile is
 *      awaited, not run twice);
 *   6. score the replays ("after") and print the comparison.
 *
 * Score of a run: the mean of its scored steps' scores (each step's score
 * is that of the attempt whose output is visible: present_run_score); with no
 * scored step, 1 when the run completed, else 0. A run passes when it
 * completed and its score >= --pass-score (default 0.5). Regressions:
 * runs that passed before and do not now; improvements: the reverse.
 * Exit 0 whatever the scores say: the output is the verdict.
 */
#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_OVERRIDES 64
#define DEFAULT_CONCURRENCY 4
#define DEFAULT_LAST 10

typedef struct bt_side {
  double score;
  int status;        /* cairn_run_status */
  bool passed;
  size_t n_scored;   /* steps with a score */
} bt_side;

typedef struct bt_run {
  char run_id[CAIRN_RUN_ID_LEN + 1];
  char replay_id[CAIRN_RUN_ID_LEN + 1];
  char workflow_id[CAIRN_WORKFLOW_ID_MAX + 1];
  bt_side before, after;
} bt_run;

typedef struct bt_args {
  const char *runs;          /* --runs, comma-separated */
  const char *workflow;      /* --workflow NAME */
  long last;
  const char *definition;    /* NULL, "original", "current" or JSON text */
  char *def_file;
  const char *reason;
  bool allow_mutations;
  bool allow_stale_assets;
  long concurrency;
  double pass_score;
  const char *overrides[MAX_OVERRIDES];
  char *owned[MAX_OVERRIDES];
  size_t n_overrides;
} bt_args;

static const char usage_text[] =
    "usage: cairn backtest (--runs R1,R2,... | --workflow NAME [--last N])\n"
    "         [--set-input PATH=JSON] [--param STEP.FIELD=JSON]\n"
    "         [--prompt STEP=TEXT|@FILE] [--model STEP=PROVIDER:MODEL]\n"
    "         [--definition original|current|FILE] [--allow-mutations]\n"
    "         [--allow-stale-assets]\n"
    "         [--concurrency N] [--pass-score X] [--reason TEXT]";

/* "KIND:VALUE", with a prompt's @FILE read (as `cairn replay` does). */
static int add_override(bt_args *a, const char *kind, const char *v) {
  if (a->n_overrides == MAX_OVERRIDES)
    return cli_usage_error("too many overrides (at most %d)", MAX_OVERRIDES);
  const char *eq = strchr(v, '=');
  char *file = NULL;
  if (eq && strcmp(kind, "prompt") == 0 && eq[1] == '@' &&
      (file = cli_read_file(eq + 2)) == NULL)
    return 3;
  size_t n = strlen(kind) + strlen(v) + (file ? strlen(file) : 0) + 2;
  char *o = malloc(n);
  if (o == NULL) {
    free(file);
    return EXIT_ERROR;
  }
  if (file)
    snprintf(o, n, "%s:%.*s=%s", kind, (int)(eq - v), v, file);
  else
    snprintf(o, n, "%s:%s", kind, v);
  free(file);
  a->owned[a->n_overrides] = o;
  a->overrides[a->n_overrides++] = o;
  return 0;
}

static bool parse_long(const char *s, long min, long *out) {
  char *end;
  long v = strtol(s, &end, 10);
  if (*s == '\0' || *end != '\0' || v < min)
    return false;
  *out = v;
  return true;
}

static int parse(int argc, char **argv, bt_args *a) {
  static const struct {
    const char *opt, *kind;
  } ov[] = {{"--set-input", "input"}, {"--param", "param"},
            {"--prompt", "prompt"}, {"--model", "model"}};
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    int rc = 0;
    if (strcmp(o, "--allow-mutations") == 0) {
      a->allow_mutations = true;
      continue;
    }
    if (strcmp(o, "--allow-stale-assets") == 0) {
      a->allow_stale_assets = true;
      continue;
    }
    if (v == NULL)
      return cli_usage_error("backtest: unknown option or missing value: "
                             "%s\n%s", o, usage_text);
    i++;
    if (strcmp(o, "--runs") == 0)
      a->runs = v;
    else if (strcmp(o, "--workflow") == 0)
      a->workflow = v;
    else if (strcmp(o, "--last") == 0) {
      if (!parse_long(v, 1, &a->last))
        return cli_usage_error("--last takes a number >= 1, not '%s'", v);
    }
    else if (strcmp(o, "--concurrency") == 0) {
      if (!parse_long(v, 1, &a->concurrency))
        return cli_usage_error("--concurrency takes a number >= 1, not "
                               "'%s'", v);
    }
    else if (strcmp(o, "--pass-score") == 0) {
      char *end;
      a->pass_score = strtod(v, &end);
      if (*v == '\0' || *end != '\0' || !(a->pass_score >= 0) ||
          a->pass_score > 1)
        return cli_usage_error("--pass-score takes a number from 0 to 1, "
                               "not '%s'", v);
    }
    else if (strcmp(o, "--definition") == 0)
      a->definition = v;
    else if (strcmp(o, "--reason") == 0)
      a->reason = v;
    else {
      size_t k = 0;
      while (k < 4 && strcmp(o, ov[k].opt) != 0)
        k++;
      if (k == 4)
        return cli_usage_error("backtest: unknown option: %s\n%s", o,
                               usage_text);
      rc = add_override(a, ov[k].kind, v);
    }
    if (rc)
      return rc;
  }
  if ((a->runs == NULL) == (a->workflow == NULL))
    return cli_usage_error("backtest takes either --runs or --workflow\n%s",
                           usage_text);
  if (a->last && a->workflow == NULL)
    return cli_usage_error("--last goes with --workflow NAME");
  const char *d = a->definition;
  if (d && strcmp(d, "original") != 0 && strcmp(d, "current") != 0) {
    int rc = 0; /* llm prompts given as "@file" are read in, too */
    if ((a->def_file = cli_read_definition(d, &rc)) == NULL)
      return rc ? rc : 3;
    a->definition = a->def_file;
  }
  return 0;
}

/* ------------------------------------------------------------ sources */

static int add_run(bt_run **runs, size_t *n, size_t *cap,
                   const cairn_run_info *info) {
  for (size_t i = 0; i < *n; i++)
    if (strcmp((*runs)[i].run_id, info->run_id) == 0)
      return 0; /* named twice: replayed once */
  if (*n == *cap) {
    size_t c = *cap ? 2 * *cap : 16;
    bt_run *q = realloc(*runs, c * sizeof *q);
    if (q == NULL)
      return CAIRN_ENOMEM;
    *runs = q;
    *cap = c;
  }
  bt_run *b = &(*runs)[(*n)++];
  memset(b, 0, sizeof *b);
  memcpy(b->run_id, info->run_id, sizeof b->run_id);
  memcpy(b->workflow_id, info->workflow_id, sizeof b->workflow_id);
  return 0;
}

/* --runs: each must exist (3), be in the namespace (5) and have
 * finished (4). */
static int runs_listed(cli_ctx *ctx, cairn_journal *j, cairn_reader *r,
                       const char *list, bt_run **runs, size_t *n) {
  size_t cap = 0;
  char *copy = strdup(list), *save = NULL;
  int status = copy ? 0 : EXIT_ERROR;
  for (char *t = copy ? strtok_r(copy, ", ", &save) : NULL;
       t && status == 0; t = strtok_r(NULL, ", ", &save)) {
    cairn_run_info info;
    int rc = cli_find_run(ctx, j, r, t, &info);
    if (rc)
      status = cairn_err_exit_code(rc);
    else if (strcmp(info.ns, ctx->ns) != 0) {
      fprintf(stderr, "cairn: backtest: run %s belongs to namespace %s; "
                      "act on it with --namespace %s\n", info.run_id,
              info.ns, info.ns);
      status = cairn_err_exit_code(CAIRN_EFORBIDDEN);
    }
    else if (!cairn_run_status_is_final(info.status)) {
      fprintf(stderr, "cairn: backtest: run %s of workflow %s is still "
                      "running; a backtest replays finished runs: wait for "
                      "it (`cairn status %s`) or leave it out\n",
              info.run_id, info.workflow_id, info.run_id);
      status = 4;
    }
    else if (add_run(runs, n, &cap, &info) != 0)
      status = EXIT_ERROR;
  }
  free(copy);
  if (status == 0 && *n == 0)
    status = cli_usage_error("--runs names no run");
  return status;
}

/* The name a run's definition was registered under, else its "name". */
static void definition_name(cairn_reader *r, const cairn_run_info *info,
                            char *name, size_t len) {
  char ns[CAIRN_NAMESPACE_MAX + 1], reg[CAIRN_WORKFLOW_ID_MAX + 1];
  uint32_t version;
  cairn_str json;
  name[0] = '\0';
  if (cairn_reader_definition_of_hash(r, info->def_hash, ns, reg,
                                      &version) == 0) {
    snprintf(name, len, "%s", reg);
    return;
  }
  if (cairn_reader_definition(r, info->def_hash, &json) != 0)
    return;
  cJSON *d = cJSON_ParseWithLength(json.ptr, json.len);
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(d, "name");
  if (cJSON_IsString(v))
    snprintf(name, len, "%s", v->valuestring);
  cJSON_Delete(d);
}

/* --workflow NAME --last N: the newest N finished runs of definition
 * NAME in the namespace, one per workflow id (a reset or rerun leaves its
 * parent behind: the same input, counted once, at its newest), replays
 * left out. */
static int runs_of_workflow(cli_ctx *ctx, cairn_journal *j, cairn_reader *r,
                            const char *wf, size_t last, bt_run **runs,
                            size_t *n) {
  cairn_run_filter f = {.ns = ctx->ns};
  size_t cap = 0, want = 4 * last + 64, got = 0;
  char hash[CAIRN_HASH_HEX_LEN + 1] = "";
  char name[CAIRN_WORKFLOW_ID_MAX + 1] = "";
  cairn_run_info *all = NULL;
  int rc;
  /* Newest first, without paging: read more until enough match or the
   * journal has no more runs. */
  for (;;) {
    cairn_run_info *q = realloc(all, want * sizeof *q);
    if (q == NULL) {
      free(all);
      return EXIT_ERROR;
    }
    all = q;
    if ((rc = cairn_reader_runs(r, &f, all, want, &got)) != 0) {
      free(all);
      return cli_fail(rc, j, "listing runs");
    }
    *n = 0;
    for (size_t i = 0; i < got && *n < last && rc == 0; i++) {
      if (!cairn_run_status_is_final(all[i].status) ||
          all[i].origin_kind == CAIRN_ORIGIN_REPLAY)
        continue;
      if (strcmp(hash, all[i].def_hash) != 0) {
        memcpy(hash, all[i].def_hash, sizeof hash);
        definition_name(r, &all[i], name, sizeof name);
      }
      bool seen = false; /* a reset or rerun's parent: same case */
      for (size_t k = 0; k < *n && !seen; k++)
        seen = strcmp((*runs)[k].workflow_id, all[i].workflow_id) == 0;
      if (!seen && strcmp(name, wf) == 0)
        rc = add_run(runs, n, &cap, &all[i]);
    }
    if (rc || *n == last || got < want)
      break;
    want *= 4;
  }
  free(all);
  if (rc)
    return EXIT_ERROR;
  if (*n == 0) {
    fprintf(stderr, "cairn: backtest: no finished run of workflow '%s' in "
                    "namespace %s; check the name (`cairn workflow list`) "
                    "and the namespace\n", wf, ctx->ns);
    return 3;
  }
  return 0;
}

/* ------------------------------------------------------------ scoring */

static int score_side(cairn_reader *r, const cairn_run_info *info,
                      double pass, bt_side *s) {
  int rc = present_run_score(r, info->key, info->status, &s->score,
                         &s->n_scored);
  s->status = info->status;
  s->passed = rc == 0 && info->status == CAIRN_RUN_COMPLETED &&
              s->score >= pass;
  return rc;
}

/* Scores the sources (after = false) or their replays. */
static int score_all(cairn_journal *j, bt_run *runs, size_t n, bool after,
                     double pass) {
  cairn_reader *r;
  int rc = cairn_reader_begin(j, &r);
  for (size_t i = 0; rc == 0 && i < n; i++) {
    cairn_run_info info;
    rc = cairn_reader_run_by_id(r, after ? runs[i].replay_id
                                         : runs[i].run_id, &info);
    if (rc == 0)
      rc = score_side(r, &info, pass, after ? &runs[i].after
                                            : &runs[i].before);
  }
  cairn_reader_end(r);
  return rc ? cli_fail(rc, j, "scoring runs") : 0;
}

/* ---------------------------------------------------------- forking */

static int64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The whole batch against limits.max_forks_per_minute, before any fork. */
static int check_rate(cli_ctx *ctx, cairn_engine *e, size_t n) {
  static const char *const derived[] = {"reset", "rerun", "replay"};
  const cairn_limits *l = cairn_engine_limits(e);
  cairn_reader *r;
  uint64_t total = 0;
  if (cairn_reader_begin(cairn_engine_journal(e), &r) != 0)
    return 0; /* the forks check it themselves */
  for (size_t i = 0; i < 3; i++) {
    uint64_t c = 0;
    cairn_reader_audit_count(r, ctx->ns, derived[i], now_us() - 60000000,
                             (uint64_t)l->max_forks_per_minute, &c, NULL);
    total += c;
  }
  cairn_reader_end(r);
  if (total + n <= (uint64_t)l->max_forks_per_minute)
    return 0;
  fprintf(stderr, "cairn: backtest: %zu replay(s) would exceed the limit "
                  "of %d derived runs a minute in namespace %s (%llu in "
                  "the last minute; limits.max_forks_per_minute in "
                  "config.json): backtest fewer runs, wait a minute, or "
                  "raise the limit\n", n, l->max_forks_per_minute, ctx->ns,
          (unsigned long long)total);
  return cairn_err_exit_code(CAIRN_ERATELIMIT);
}

/* Forks one replay per source, not executed yet. On a failure the
 * replays made are cancelled. */
static int fork_all(cairn_engine *e, const bt_args *a, bt_run *runs,
                    size_t n) {
  char *said = NULL; /* the dry-run list last announced */
  int status = 0;
  size_t made = 0;
  for (; made < n; made++) {
    cairn_fork_request req = {.kind = CAIRN_FORK_REPLAY,
                              .id = runs[made].run_id,
                              .reason = a->reason,
                              .definition = a->definition,
                              .allow_mutations = a->allow_mutations,
                              .allow_stale_assets = a->allow_stale_assets,
                              .overrides = a->overrides,
                              .n_overrides = a->n_overrides,
                              .execute = false};
    cairn_fork_result fr = {0};
    int rc = cairn_engine_fork(e, &req, &fr);
    if (rc) {
      fprintf(stderr, "cairn: backtest: replaying run %s: %s\n",
              runs[made].run_id, cairn_engine_errmsg(e));
      if (rc == CAIRN_ESTALE)
        fprintf(stderr, "cairn: backtest replays old runs on purpose: give "
                        "backtest --allow-stale-assets\n");
      status = cairn_err_exit_code(rc);
      cairn_fork_result_free(&fr);
      break;
    }
    memcpy(runs[made].replay_id, fr.run_id, sizeof runs[made].replay_id);
    if (fr.dry_run && (said == NULL || strcmp(said, fr.dry_run) != 0)) {
      fprintf(stderr, "cairn: DRY-RUN (recorded from the source run, not "
                      "performed): %s\n", fr.dry_run);
      free(said);
      said = strdup(fr.dry_run);
    }
    if (fr.for_real)
      fprintf(stderr, "cairn: WILL REALLY RUN (mutating) in the replay of "
                      "%s: %s\n", runs[made].run_id, fr.for_real);
    cairn_fork_result_free(&fr);
  }
  free(said);
  for (size_t i = 0; status && i < made; i++)
    cairn_engine_cancel(e, runs[i].replay_id, false,
                        "backtest aborted: another replay was refused",
                        NULL);
  if (status && made)
    fprintf(stderr, "cairn: backtest: the %zu replay(s) made were "
                    "cancelled\n", made);
  return status;
}

/* ------------------------------------------------------------ output */

typedef struct bt_summary {
  double mean_before, mean_after, sd_before, sd_after;
  size_t failures_before, failures_after, passed_before, passed_after;
  size_t regressions, improvements;
} bt_summary;

/* Rounded to the 1e-6 scores are kept to: stable to compare and print. */
static double round6(double v) { return round(v * 1e6) / 1e6; }

static void stats(const bt_run *runs, size_t n, bool after, double *mean,
                  double *sd) {
  double sum = 0, sq = 0;
  for (size_t i = 0; i < n; i++)
    sum += after ? runs[i].after.score : runs[i].before.score;
  *mean = sum / (double)n;
  for (size_t i = 0; i < n; i++) {
    double d = (after ? runs[i].after.score : runs[i].before.score) - *mean;
    sq += d * d;
  }
  *sd = round6(sqrt(sq / (double)n)); /* population standard deviation */
  *mean = round6(*mean);
}

static bool regressed(const bt_run *b) {
  return b->before.passed && !b->after.passed;
}

static bool improved(const bt_run *b) {
  return !b->before.passed && b->after.passed;
}

static bt_summary summarize(const bt_run *runs, size_t n) {
  bt_summary s = {0};
  stats(runs, n, false, &s.mean_before, &s.sd_before);
  stats(runs, n, true, &s.mean_after, &s.sd_after);
  for (size_t i = 0; i < n; i++) {
    s.failures_before += runs[i].before.status != CAIRN_RUN_COMPLETED;
    s.failures_after += runs[i].after.status != CAIRN_RUN_COMPLETED;
    s.passed_before += runs[i].before.passed;
    s.passed_after += runs[i].after.passed;
    s.regressions += regressed(&runs[i]);
    s.improvements += improved(&runs[i]);
  }
  return s;
}

static cJSON *side_json(const bt_side *s) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "score", round6(s->score));
  cJSON_AddStringToObject(o, "status", cairn_run_status_name(s->status));
  cJSON_AddBoolToObject(o, "passed", s->passed);
  cJSON_AddNumberToObject(o, "scored_steps", (double)s->n_scored);
  return o;
}

static void print_json(const bt_args *a, const bt_run *runs, size_t n,
                       const bt_summary *s) {
  cJSON *doc = cJSON_CreateObject();
  cJSON *arr = cJSON_AddArrayToObject(doc, "runs");
  for (size_t i = 0; i < n; i++) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "run_id", runs[i].run_id);
    cJSON_AddStringToObject(o, "replay_run_id", runs[i].replay_id);
    cJSON_AddStringToObject(o, "workflow_id", runs[i].workflow_id);
    cJSON_AddItemToObject(o, "before", side_json(&runs[i].before));
    cJSON_AddItemToObject(o, "after", side_json(&runs[i].after));
    cJSON_AddItemToArray(arr, o);
  }
  cJSON *m = cJSON_AddObjectToObject(doc, "summary");
  cJSON_AddNumberToObject(m, "runs", (double)n);
  cJSON_AddNumberToObject(m, "pass_score", a->pass_score);
  cJSON_AddNumberToObject(m, "mean_before", s->mean_before);
  cJSON_AddNumberToObject(m, "mean_after", s->mean_after);
  cJSON_AddNumberToObject(m, "stddev_before", s->sd_before);
  cJSON_AddNumberToObject(m, "stddev_after", s->sd_after);
  cJSON_AddNumberToObject(m, "failures_before", (double)s->failures_before);
  cJSON_AddNumberToObject(m, "failures_after", (double)s->failures_after);
  cJSON_AddNumberToObject(m, "passed_before", (double)s->passed_before);
  cJSON_AddNumberToObject(m, "passed_after", (double)s->passed_after);
  cJSON *reg = cJSON_AddArrayToObject(m, "regressions");
  cJSON *imp = cJSON_AddArrayToObject(m, "improvements");
  for (size_t i = 0; i < n; i++) {
    if (regressed(&runs[i]))
      cJSON_AddItemToArray(reg, cJSON_CreateString(runs[i].run_id));
    if (improved(&runs[i]))
      cJSON_AddItemToArray(imp, cJSON_CreateString(runs[i].run_id));
  }
  cli_print_json(doc);
}

static void print_list(const char *what, const char *why, size_t count,
                       const bt_run *runs, size_t n,
                       bool (*pick)(const bt_run *)) {
  printf("%s: %zu%s\n", what, count, count ? why : "");
  for (size_t i = 0; i < n; i++)
    if (pick(&runs[i]))
      printf("  %s  (replay %s)\n", runs[i].run_id, runs[i].replay_id);
}

static void print_text(const bt_args *a, const bt_run *runs, size_t n,
                       const bt_summary *s) {
  printf("%-36s  %6s  %6s  %-10s %s\n", "RUN", "BEFORE", "AFTER", "WAS",
         "NOW");
  for (size_t i = 0; i < n; i++) {
    const bt_run *b = &runs[i];
    const char *note = regressed(b) ? "REGRESSED"
                       : improved(b) ? "improved" : NULL;
    printf("%-36s  %6.3f  %6.3f  %-10s ", b->run_id, b->before.score,
           b->after.score, cairn_run_status_name(b->before.status));
    if (note)
      printf("%-10s %s\n", cairn_run_status_name(b->after.status), note);
    else
      printf("%s\n", cairn_run_status_name(b->after.status));
  }
  printf("\n%-16s %8s %8s\n", "", "before", "after");
  printf("%-16s %8.3f %8.3f  (%+.3f)\n", "mean score", s->mean_before,
         s->mean_after, s->mean_after - s->mean_before);
  printf("%-16s %8.3f %8.3f\n", "std deviation", s->sd_before, s->sd_after);
  printf("%-16s %8zu %8zu  (runs not completed)\n", "failures",
         s->failures_before, s->failures_after);
  printf("%-16s %8zu %8zu  (completed, score >= %g)\n", "passed",
         s->passed_before, s->passed_after, a->pass_score);
  print_list("regressions", " (passed before, fail now)", s->regressions,
             runs, n, regressed);
  print_list("improvements", " (failed before, pass now)", s->improvements,
             runs, n, improved);
}

/* ------------------------------------------------------------ command */

static int backtest(cli_ctx *ctx, bt_args *a) {
  cairn_engine *e;
  bt_run *runs = NULL;
  size_t n = 0;
  int rc = cli_engine_open_existing(ctx, (size_t)a->concurrency, true, &e);
  if (rc)
    return cairn_err_exit_code(rc);
  cairn_journal *j = cairn_engine_journal(e);
  cairn_reader *r;
  int status = cairn_reader_begin(j, &r);
  if (status) {
    status = cli_fail(status, j, "reading the journal");
    cairn_engine_close(e);
    return status;
  }
  status = a->runs ? runs_listed(ctx, j, r, a->runs, &runs, &n)
                   : runs_of_workflow(ctx, j, r, a->workflow,
                                      (size_t)a->last, &runs, &n);
  cairn_reader_end(r);
  if (status == 0)
    status = score_all(j, runs, n, false, a->pass_score);
  if (status == 0)
    status = check_rate(ctx, e, n);
  if (status == 0)
    status = fork_all(e, a, runs, n);
  if (status == 0) {
    const char **ids = malloc(n * sizeof *ids);
    for (size_t i = 0; ids && i < n; i++)
      ids[i] = runs[i].replay_id;
    fprintf(stderr, "cairn: backtest: replaying %zu run(s), up to %ld at "
                    "once\n", n, a->concurrency);
    rc = ids ? cairn_engine_work_runs(e, ids, n) : CAIRN_ENOMEM;
    free(ids);
    if (rc) {
      fprintf(stderr, "cairn: backtest: %s\n", cairn_engine_errmsg(e));
      status = cairn_err_exit_code(rc);
    }
  }
  if (status == 0)
    status = score_all(j, runs, n, true, a->pass_score);
  if (status == 0) {
    bt_summary s = summarize(runs, n);
    if (ctx->json)
      print_json(a, runs, n, &s);
    else
      print_text(a, runs, n, &s);
  }
  free(runs);
  cairn_engine_close(e);
  return status;
}

int cli_backtest(cli_ctx *ctx, int argc, char **argv) {
  bt_args a = {.last = 0, .concurrency = DEFAULT_CONCURRENCY,
               .pass_score = 0.5, .reason = "backtest"};
  int rc = parse(argc, argv, &a);
  if (rc == 0 && a.last == 0)
    a.last = DEFAULT_LAST;
  if (rc == 0)
    rc = backtest(ctx, &a);
  for (size_t i = 0; i < a.n_overrides; i++)
    free(a.owned[i]);
  free(a.def_file);
  return rc;
}
