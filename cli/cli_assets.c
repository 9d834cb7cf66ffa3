/*
 * cli_assets.c — `cairn assets list|show|history` (docs/assets.md): what
 * runs produced, which materialization of each key is current, and why
 * an older one is stale.
 *
 *   cairn assets list [--prefix P] [--stale] [--limit N]
 *   cairn assets show KEY [--partition P]
 *   cairn assets history KEY [--partition P]
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "cairn assets list [--prefix P] [--stale] [--limit N] | "
    "show KEY [--partition P] | history KEY [--partition P]";

/* The string `k` of `o`, or NULL; txt: the same, "" when absent. */
static const char *s_of(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}
static const char *txt(const cJSON *o, const char *k) {
  const char *s = s_of(o, k);
  return s ? s : "";
}

static void why_text(const cJSON *a, char *buf, size_t len) {
  cli_stale_why(cJSON_GetObjectItemCaseSensitive(a, "staleness"), buf, len);
}

static void print_line(const cJSON *a) {
  const char *p = s_of(a, "partition");
  char why[600];
  why_text(a, why, sizeof why);
  printf("%s%s%s%s  sha256:%.12s  %9.0f B  %s  run %s  %s%s\n",
         txt(a, "key"), p ? " [" : "", p ? p : "", p ? "]" : "",
         txt(a, "hash"),
         cJSON_GetNumberValue(cJSON_GetObjectItem(a, "size_bytes")),
         txt(a, "materialized"), txt(a, "run_id"),
         cJSON_IsTrue(cJSON_GetObjectItem(a, "stale")) ? "STALE: " : "fresh",
         why);
}

static void print_one(const cJSON *a) {
  const char *p = s_of(a, "partition");
  char why[600];
  const cJSON *v;
  why_text(a, why, sizeof why);
  printf("key          %s\n", txt(a, "key"));
  if (p)
    printf("partition    %s\n", p);
  printf("hash         sha256:%s\n", txt(a, "hash"));
  printf("size         %.0f bytes\n",
         cJSON_GetNumberValue(cJSON_GetObjectItem(a, "size_bytes")));
  if (s_of(a, "uri"))
    printf("%-12s %s\n", strcmp(txt(a, "source"), "path") == 0 ? "path"
                                                             : "uri",
           txt(a, "uri"));
  printf("made by      run %s, step %s, attempt %.0f\n", txt(a, "run_id"),
         txt(a, "step"), cJSON_GetNumberValue(cJSON_GetObjectItem(a,
                                                                 "attempt")));
  printf("materialized %s\n", txt(a, "materialized"));
  v = cJSON_GetObjectItem(a, "max_age_s");
  if (cJSON_IsNumber(v))
    printf("max age      %.0f s\n", v->valuedouble);
  cJSON_ArrayForEach(v, cJSON_GetObjectItem(a, "upstream")) {
    printf("built from   %s sha256:%.12s\n", txt(v, "key"), txt(v, "hash"));
  }
  cJSON_ArrayForEach(v, cJSON_GetObjectItem(a, "used_by")) {
    printf("used by      run %s\n", v->valuestring);
  }
  printf("freshness    %s%s\n",
         cJSON_IsTrue(cJSON_GetObjectItem(a, "stale")) ? "STALE: " : "fresh",
         why);
}

int cli_assets(cli_ctx *ctx, int argc, char **argv) {
  const char *sub = argc > 1 ? argv[1] : NULL, *key = NULL, *part = NULL,
             *prefix = NULL;
  bool stale = false;
  long limit = 0;
  if (sub == NULL || (strcmp(sub, "list") && strcmp(sub, "show") &&
                      strcmp(sub, "history")))
    return cli_usage_error("usage: %s", usage);
  for (int i = 2; i < argc; i++) {
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(argv[i], "--partition") == 0 && v)
      part = argv[++i];
    else if (strcmp(argv[i], "--prefix") == 0 && v)
      prefix = argv[++i];
    else if (strcmp(argv[i], "--stale") == 0)
      stale = true;
    else if (strcmp(argv[i], "--limit") == 0 && v) {
      char *end;
      limit = strtol(argv[++i], &end, 10);
      if (*end || limit < 1)
        return cli_usage_error("assets list: --limit takes a count >= 1");
    }
    else if (argv[i][0] == '-')
      return cli_usage_error("assets %s: unknown option or missing value: "
                             "%s; usage: %s", sub, argv[i], usage);
    else if (key == NULL && strcmp(sub, "list") != 0)
      key = argv[i];
    else
      return cli_usage_error("usage: %s", usage);
  }
  if (strcmp(sub, "list") != 0 && key == NULL)
    return cli_usage_error("assets %s needs an asset KEY; `cairn assets "
                           "list` shows the keys", sub);
  cairn_journal *j;
  cairn_reader *r;
  cJSON *doc = NULL;
  int rc = cli_open(ctx, true, &j);
  if (rc)
    return cairn_err_exit_code(rc);
  if ((rc = cairn_reader_begin(j, &r)) == 0) {
    if (strcmp(sub, "list") == 0)
      rc = present_assets(r, ctx->ns, prefix, NULL,
                          limit ? (size_t)limit : (size_t)-1, stale, &doc);
    else if (strcmp(sub, "show") == 0)
      rc = present_asset_show(r, ctx->ns, key, part, &doc);
    else
      rc = present_asset_history(r, ctx->ns, key, part, &doc);
    cairn_reader_end(r);
  }
  int status = rc ? cli_fail(rc, j, sub) : EXIT_OK;
  cairn_journal_close(j);
  if (rc)
    return status;
  if (ctx->json) {
    cli_print_json(doc);
    return EXIT_OK;
  }
  const cJSON *a;
  if (strcmp(sub, "list") == 0) {
    cJSON_ArrayForEach(a, cJSON_GetObjectItem(doc, "assets")) {
      print_line(a);
    }
  }
  else if (strcmp(sub, "show") == 0)
    print_one(doc);
  else {
    int n = 0;
    cJSON_ArrayForEach(a, cJSON_GetObjectItem(doc, "versions")) {
      if (n++)
        printf("\n");
      print_one(a);
    }
  }
  cJSON_Delete(doc);
  return EXIT_OK;
}
