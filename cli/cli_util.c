/* cli_util.c — journal opening, error reporting and JSON output shared by
 * the command files. */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int cli_usage_error(const char *fmt, ...) {
  va_list ap;
  fputs("cairn: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputs("\n", stderr);
  return EXIT_USAGE;
}

int cli_fail(int rc, cairn_journal *j, const char *what) {
  const char *detail = j ? cairn_journal_errmsg(j) : "";
  fprintf(stderr, "cairn: %s: %s\n", what,
          *detail ? detail : cairn_strerror(rc));
  return cairn_err_exit_code(rc);
}

/* The journal is not there: says where cairn looked and how to point it
 * elsewhere (a PostgreSQL journal's own words say more). */
static void cli_no_journal(const cli_ctx *ctx, const char *err) {
  if (ctx->journal != ctx->home)
    fprintf(stderr, "cairn: %s\n", *err ? err : "no journal there");
  else
    fprintf(stderr, "cairn: no journal in %s; pass --home DIR or set "
                    "CAIRN_HOME to the directory that holds it (or "
                    "--journal postgresql://...)\n",
            ctx->home);
}

int cli_open(const cli_ctx *ctx, bool read_only, cairn_journal **j) {
  char err[512] = "";
  cairn_journal_options o = {.read_only = read_only, .must_exist = true};
  int rc = cairn_journal_open(ctx->journal, &o, j, err, sizeof err);
  if (rc == CAIRN_ENOTFOUND)
    cli_no_journal(ctx, err);
  else if (rc)
    fprintf(stderr, "cairn: %s\n", *err ? err : cairn_strerror(rc));
  return rc;
}

int cli_find_run(const cli_ctx *ctx, cairn_journal *j, cairn_reader *r,
                 const char *id, cairn_run_info *out) {
  int rc = cairn_reader_run_by_id(r, id, out);
  if (rc != CAIRN_ENOTFOUND)
    return rc;
  cairn_workflow_info wf;
  rc = cairn_reader_workflow(r, ctx->ns, id, &wf);
  if (rc == 0)
    return cairn_reader_run_by_key(r, wf.current, out);
  if (rc == CAIRN_ENOTFOUND)
    fprintf(stderr, "cairn: no run or workflow has id %s in namespace %s; "
                    "check the id, the namespace (--namespace) and the "
                    "journal (--home, now %s)\n",
            id, ctx->ns, ctx->home);
  else
    cli_fail(rc, j, "finding the run");
  return rc;
}

void cli_print_json(cJSON *doc) {
  char *s = cJSON_Print(doc);
  if (s) {
    fputs(s, stdout);
    fputc('\n', stdout);
    cJSON_free(s);
  }
  cJSON_Delete(doc);
}

/* ------------------------------------------- files and engines */

/* Reads a whole file; NULL with a message on failure. */
char *cli_read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    fprintf(stderr, "cairn: cannot read %s: %s\n", path, strerror(errno));
    return NULL;
  }
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  for (size_t got; buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0;) {
    n += got;
    if (n + 1 == cap) {
      char *b = realloc(buf, cap *= 2);
      if (b == NULL) {
        free(buf);
        buf = NULL;
      }
      else {
        buf = b;
      }
    }
  }
  fclose(f);
  if (buf)
    buf[n] = '\0';
  return buf;
}

int cli_engine_open(const cli_ctx *ctx, size_t max_runs, cairn_engine **e) {
  return cli_engine_open_existing(ctx, max_runs, false, e);
}

int cli_engine_open_existing(const cli_ctx *ctx, size_t max_runs,
                             bool must_exist, cairn_engine **e) {
  char err[512] = "";
  cairn_engine_options o = {.home = ctx->home, .ns = ctx->ns,
                            .journal = ctx->journal,
                            .max_runs = max_runs, .must_exist = must_exist};
  int rc = cairn_engine_open(&o, e, err, sizeof err);
  if (rc == CAIRN_ENOTFOUND && must_exist)
    cli_no_journal(ctx, err);
  else if (rc)
    fprintf(stderr, "cairn: %s\n", *err ? err : cairn_strerror(rc));
  return rc;
}

void cli_stale_why(const cJSON *st, char *buf, size_t len) {
  const cJSON *w, *newer = cJSON_GetObjectItemCaseSensitive(st, "newer");
  const cJSON *up = cJSON_GetObjectItemCaseSensitive(st, "upstream");
  const cJSON *run = cJSON_GetObjectItemCaseSensitive(newer, "run_id");
  const cJSON *key = cJSON_GetObjectItemCaseSensitive(up, "key");
  buf[0] = '\0';
  cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(st, "why")) {
    size_t n = strlen(buf);
    const char *sep = n ? "; " : "";
    if (!cJSON_IsString(w))
      continue;
    if (strcmp(w->valuestring, "superseded") == 0 && cJSON_IsString(run))
      snprintf(buf + n, len - n, "%ssuperseded by run %s", sep,
               run->valuestring);
    else if (strcmp(w->valuestring, "upstream_changed") == 0 &&
             cJSON_IsString(key))
      snprintf(buf + n, len - n, "%supstream %s changed", sep,
               key->valuestring);
    else
      snprintf(buf + n, len - n, "%s%s", sep,
               strcmp(w->valuestring, "expired") == 0
                   ? "older than its max_age"
                   : w->valuestring);
  }
}
