/*
 * cli_diff.c — `cairn diff RUN_A RUN_B`: what differs between two runs.
 * The comparison is present_diff's (present/diff.c, which describes its
 * sections; docs/diff.md has the schema); the text report here is
 * rendered from that document, so the two never disagree.
 *
 * Exit status: 0 whether or not the runs differ (as `git diff` without
 * --exit-code), 2 for usage, 3 when a run is not found.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cJSON *get(const cJSON *o, const char *key) {
  return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* ----------------------------------------------------------- printing */

/* Values and lists are cut so that one line stays readable; the JSON
 * form has everything. */
#define TEXT_VALUE_MAX 60
#define TEXT_DIFFS_MAX 6
#define TEXT_TRANSITIONS_MAX 12

static void print_value(const cJSON *v) {
  char *s = cJSON_PrintUnformatted(v);
  size_t n = s ? strlen(s) : 0;
  if (n > TEXT_VALUE_MAX) {
    n = TEXT_VALUE_MAX;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
      n--; /* never cut a UTF-8 character */
    printf("%.*s...", (int)n, s);
  }
  else {
    fputs(s ? s : "?", stdout);
  }
  cJSON_free(s);
}

/* ".a: 1 -> 2, .b added 3, .c removed (was 4)" */
static void print_diffs(const cJSON *diffs) {
  int i = 0, n = cJSON_GetArraySize(diffs);
  const cJSON *d;
  cJSON_ArrayForEach(d, diffs) {
    if (i == TEXT_DIFFS_MAX) {
      printf(", and %d more", n - i);
      break;
    }
    const char *change = get(d, "change")->valuestring;
    printf("%s%s", i++ ? ", " : "", get(d, "path")->valuestring);
    if (strcmp(change, "added") == 0) {
      fputs(" added ", stdout);
      print_value(get(d, "after"));
    }
    else if (strcmp(change, "removed") == 0) {
      fputs(" removed (was ", stdout);
      print_value(get(d, "before"));
      putchar(')');
    }
    else {
      fputs(": ", stdout);
      print_value(get(d, "before"));
      fputs(" -> ", stdout);
      print_value(get(d, "after"));
    }
  }
}

static void print_section(const char *label, const cJSON *diffs) {
  printf("%s: ", label);
  if (cJSON_GetArraySize(diffs) == 0)
    fputs("identical", stdout);
  else
    print_diffs(diffs);
  putchar('\n');
}

static void print_names(const cJSON *names, const char *what,
                        const char **sep) {
  const cJSON *it;
  cJSON_ArrayForEach(it, names) {
    printf("%sstep %s %s", *sep, it->valuestring, what);
    *sep = "; ";
  }
}

static void print_definition(const cJSON *def) {
  const char *sep = "";
  fputs("definition: ", stdout);
  if (cJSON_IsTrue(get(def, "same"))) {
    puts("identical");
    return;
  }
  const cJSON *it;
  cJSON_ArrayForEach(it, get(def, "changed")) {
    printf("%sstep %s changed (", sep, get(it, "step")->valuestring);
    print_diffs(get(it, "diff"));
    putchar(')');
    sep = "; ";
  }
  print_names(get(def, "added"), "added", &sep);
  print_names(get(def, "removed"), "removed", &sep);
  if (cJSON_GetArraySize(get(def, "fields"))) {
    printf("%s", sep);
    print_diffs(get(def, "fields"));
    sep = "; ";
  }
  if (cJSON_IsTrue(get(def, "reordered")))
    printf("%ssteps reordered", sep);
  putchar('\n');
}

/* "completed (2 attempts, 15 ms)", "completed (reused)", "pending" */
static void print_step_side(const cJSON *s) {
  const char *status = get(s, "status")->valuestring;
  int attempts = get(s, "attempts")->valueint;
  const cJSON *ms = get(s, "duration_ms");
  const cJSON *code = get(get(s, "error"), "code");
  fputs(status, stdout);
  if (cJSON_IsTrue(get(s, "reused"))) {
    fputs(" (reused)", stdout);
    return;
  }
  if (attempts == 0)
    return;
  printf(" (%d attempt%s", attempts, attempts == 1 ? "" : "s");
  if (cJSON_IsNumber(ms))
    printf(ms->valuedouble < 10 ? ", %.1f ms" : ", %.0f ms",
           ms->valuedouble);
  if (cJSON_IsString(code))
    printf(", %s", code->valuestring);
  putchar(')');
}

static void print_steps(const cJSON *steps) {
  const cJSON *it;
  int shown = 0;
  cJSON_ArrayForEach(it, steps) {
    if (cJSON_IsTrue(get(it, "same")))
      continue;
    printf("step %s: ", get(it, "name")->valuestring);
    print_step_side(get(it, "a"));
    fputs(" -> ", stdout);
    print_step_side(get(it, "b"));
    if (cJSON_GetArraySize(get(it, "output"))) {
      fputs("; output: ", stdout);
      print_diffs(get(it, "output"));
    }
    putchar('\n');
    shown++;
  }
  if (shown == 0)
    puts("steps: identical");
}

static void print_list(const cJSON *arr, int from) {
  int n = cJSON_GetArraySize(arr);
  for (int i = from; i < n; i++) {
    if (i - from == TEXT_TRANSITIONS_MAX) {
      printf(", and %d more", n - i);
      break;
    }
    printf("%s%s", i > from ? ", " : "",
           cJSON_GetArrayItem(arr, i)->valuestring);
  }
  if (from >= n)
    fputs("(nothing more)", stdout);
  putchar('\n');
}

/* The common start once, then where each run went. */
static void print_transitions(const cJSON *t) {
  const cJSON *a = get(t, "a"), *b = get(t, "b");
  if (cJSON_IsTrue(get(t, "same"))) {
    puts("transitions: identical");
    return;
  }
  int common = 0;
  const cJSON *x = a->child, *y = b->child;
  for (; x && y && strcmp(x->valuestring, y->valuestring) == 0;
       x = x->next, y = y->next)
    common++;
  printf("transitions: %d in common, then\n  a: ", common);
  print_list(a, common);
  fputs("  b: ", stdout);
  print_list(b, common);
}

static void print_run(const char *label, const cJSON *run) {
  const cJSON *origin = get(run, "origin");
  const cJSON *parent = get(origin, "parent_run_id");
  printf("%s: %s  workflow %s  %s", label, get(run, "run_id")->valuestring,
         get(run, "workflow_id")->valuestring,
         get(run, "status")->valuestring);
  if (cJSON_IsString(parent))
    printf("  (%s of %s)", get(origin, "kind")->valuestring,
           parent->valuestring);
  putchar('\n');
}

static const char *error_message(const cJSON *run) {
  const cJSON *m = get(get(run, "error"), "message");
  return cJSON_IsString(m) ? m->valuestring : "none";
}

static void print_end(const cJSON *doc) {
  const cJSON *a = get(doc, "run_a"), *b = get(doc, "run_b");
  const char *sa = get(a, "status")->valuestring;
  const char *sb = get(b, "status")->valuestring;
  if (strcmp(sa, sb) == 0)
    printf("status: identical (%s)\n", sa);
  else
    printf("status: %s -> %s\n", sa, sb);
  if (!present_json_equal(get(a, "error"), get(b, "error")))
    printf("error: %s -> %s\n", error_message(a), error_message(b));
  print_section("output", get(doc, "output"));
}

/* assets: "assets: reports/day [day] changed sha256:ab.. -> sha256:cd..",
 * and the stale warning of the base run; nothing when neither has news
 * (runs without assets say nothing of them). */
static void print_assets(const cJSON *doc) {
  const cJSON *d, *w = get(doc, "stale_warning");
  bool deltas = cJSON_GetArraySize(get(doc, "assets")) > 0;
  if (!deltas && !cJSON_IsObject(w))
    return;
  printf("assets: ");
  if (!deltas)
    fputs("identical", stdout);
  int i = 0;
  cJSON_ArrayForEach(d, get(doc, "assets")) {
    const cJSON *hb = get(get(d, "before"), "hash");
    const cJSON *ha = get(get(d, "after"), "hash");
    printf("%s%s %s", i++ ? "; " : "", get(d, "path")->valuestring,
           get(d, "change")->valuestring);
    if (cJSON_IsString(hb))
      printf(" sha256:%.12s", hb->valuestring);
    if (cJSON_IsString(hb) && cJSON_IsString(ha))
      fputs(" ->", stdout);
    if (cJSON_IsString(ha))
      printf(" sha256:%.12s", ha->valuestring);
  }
  putchar('\n');
  if (cJSON_IsObject(w))
    printf("warning: %s\n", get(w, "message")->valuestring);
}

static void print_text(const cJSON *doc) {
  print_run("a", get(doc, "run_a"));
  print_run("b", get(doc, "run_b"));
  print_section("input", get(doc, "input"));
  print_definition(get(doc, "definition"));
  print_steps(get(doc, "steps"));
  print_transitions(get(doc, "transitions"));
  print_end(doc);
  print_assets(doc);
}

/* ------------------------------------------------------------ command */

int cli_diff(cli_ctx *ctx, int argc, char **argv) {
  if (argc != 3 || argv[1][0] == '-' || argv[2][0] == '-')
    return cli_usage_error("usage: cairn diff RUN_A RUN_B [--format json]"
                           " (run ids or workflow ids)");
  cairn_journal *j;
  cairn_reader *r;
  cJSON *doc = NULL;
  char err[600] = "";
  int rc = cli_open(ctx, true, &j);
  if (rc)
    return cairn_err_exit_code(rc);
  if ((rc = cairn_reader_begin(j, &r)) != 0) {
    rc = cli_fail(rc, j, "reading the journal");
    cairn_journal_close(j);
    return rc;
  }
  rc = present_diff(r, ctx->ns, argv[1], argv[2], &doc, err, sizeof err);
  if (rc)
    fprintf(stderr, "cairn: %s\n", err);
  else if (ctx->json)
    cli_print_json(doc); /* frees doc */
  else {
    print_text(doc);
    cJSON_Delete(doc);
  }
  cairn_reader_end(r);
  cairn_journal_close(j);
  return cairn_err_exit_code(rc);
}
