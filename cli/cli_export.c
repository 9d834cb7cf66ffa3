/*
 * cli_export.c — `cairn export ID [--format json|md]`: one run as a
 * document to share (docs/cli.md, "export").
 *
 * The document is present_export's (present/export.c), also the API's
 * GET /v1/runs/{id}/export.
 *
 * One builder makes the JSON document; the Markdown form is rendered from
 * that document, so the two never disagree. Default: Markdown; `--format
 * json` gives the JSON object (a stable schema: fields are added, never
 * renamed).
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------- Markdown */

/* A fence longer than any run of backticks in `text`. */
static void fence(const char *text, char *buf, size_t len) {
  size_t longest = 0, run = 0;
  for (const char *c = text; *c; c++) {
    run = *c == '`' ? run + 1 : 0;
    if (run > longest)
      longest = run;
  }
  size_t n = longest < 3 ? 3 : longest + 1;
  if (n > len - 1)
    n = len - 1;
  memset(buf, '`', n);
  buf[n] = '\0';
}

static void md_block(const char *lang, const char *text) {
  char f[64];
  size_t n = strlen(text);
  fence(text, f, sizeof f);
  printf("%s%s\n%s%s%s\n\n", f, lang, text,
         n && text[n - 1] == '\n' ? "" : "\n", f);
}

/* Prints JSON text from cJSON_Print, which indents with tabs and puts one
 * after each colon, with two spaces and one space instead. Raw tabs only
 * ever format (JSON strings escape theirs), so every tab goes. */
static void put_json(const char *s) {
  for (const char *c = s; *c; c++) {
    if (*c != '\t')
      putchar(*c);
    else if (c > s && c[-1] == ':')
      putchar(' ');
    else
      fputs("  ", stdout);
  }
}

/* A JSON value as a fenced block: a string as text, anything else as
 * indented JSON. */
static void md_value(const cJSON *v) {
  if (cJSON_IsString(v)) {
    md_block("text", v->valuestring);
    return;
  }
  char *s = v ? cJSON_Print(v) : NULL;
  char f[64];
  fence(s ? s : "null", f, sizeof f);
  printf("%sjson\n", f);
  put_json(s ? s : "null");
  printf("\n%s\n\n", f);
  cJSON_free(s);
}

static const char *str_of(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void md_llm(const cJSON *llm) {
  const char *model = str_of(llm, "model");
  const cJSON *in = cJSON_GetObjectItemCaseSensitive(llm, "input_tokens");
  const cJSON *out = cJSON_GetObjectItemCaseSensitive(llm, "output_tokens");
  const cJSON *cost = cJSON_GetObjectItemCaseSensitive(llm, "cost_usd");
  if (model)
    printf("- model: `%s`\n", model);
  if (cJSON_IsNumber(in) && cJSON_IsNumber(out))
    printf("- tokens: %.0f in, %.0f out\n", in->valuedouble,
           out->valuedouble);
  if (cJSON_IsNumber(cost))
    printf("- cost: $%.6f\n", cost->valuedouble);
  if (str_of(llm, "finish_reason"))
    printf("- finish reason: %s\n", str_of(llm, "finish_reason"));
  putchar('\n');
  if (str_of(llm, "system")) {
    printf("System:\n\n");
    md_block("text", str_of(llm, "system"));
  }
  if (str_of(llm, "prompt")) {
    printf("Prompt:\n\n");
    md_block("text", str_of(llm, "prompt"));
  }
}

static void md_step(size_t i, const cJSON *s) {
  const cJSON *score = cJSON_GetObjectItemCaseSensitive(s, "score");
  const cJSON *attempt = cJSON_GetObjectItemCaseSensitive(s, "attempt");
  const cJSON *src = cJSON_GetObjectItemCaseSensitive(s, "source");
  const cJSON *err = cJSON_GetObjectItemCaseSensitive(s, "error");
  const cJSON *llm = cJSON_GetObjectItemCaseSensitive(s, "llm");
  printf("### %zu. %s (%s)\n\n", i + 1, str_of(s, "name"),
         str_of(s, "kind"));
  printf("- status: %s", str_of(s, "status"));
  if (cJSON_IsNumber(attempt) && attempt->valuedouble > 0)
    printf(", attempt %d", attempt->valueint);
  if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "dry_run")))
    printf(" (dry-run: recorded, not performed)");
  putchar('\n');
  if (src)
    printf("- reused from run `%s`\n", str_of(src, "run_id"));
  if (cJSON_IsNumber(score))
    printf("- score: %.3f\n", score->valuedouble);
  if (cJSON_IsObject(llm))
    md_llm(llm);
  else
    putchar('\n');
  if (cJSON_IsObject(err)) {
    printf("Error (%s):\n\n", str_of(err, "code") ? str_of(err, "code")
                                                  : "failed");
    md_block("text", str_of(err, "message") ? str_of(err, "message") : "");
    return;
  }
  printf("Output:\n\n");
  md_value(cJSON_GetObjectItemCaseSensitive(s, "output"));
}

static void print_md(const cJSON *doc) {
  const cJSON *def = cJSON_GetObjectItemCaseSensitive(doc, "definition");
  const cJSON *version = cJSON_GetObjectItemCaseSensitive(def, "version");
  const cJSON *origin = cJSON_GetObjectItemCaseSensitive(doc, "origin");
  const cJSON *score = cJSON_GetObjectItemCaseSensitive(doc, "score");
  const cJSON *err = cJSON_GetObjectItemCaseSensitive(doc, "error");
  printf("# %s: run %s\n\n", str_of(def, "name"), str_of(doc, "run_id"));
  printf("- workflow: `%s`\n", str_of(doc, "workflow_id"));
  printf("- run: `%s`\n", str_of(doc, "run_id"));
  printf("- definition: %s", str_of(def, "name"));
  if (cJSON_IsNumber(version))
    printf(" version %d", version->valueint);
  printf(" (`%.12s`)\n", str_of(def, "hash"));
  printf("- started: %s\n", str_of(doc, "started"));
  printf("- status: %s\n", str_of(doc, "status"));
  if (strcmp(str_of(origin, "kind"), "none") != 0)
    printf("- origin: %s of run `%s`%s%s\n", str_of(origin, "kind"),
           str_of(origin, "parent_run_id") ? str_of(origin, "parent_run_id")
                                           : "",
           str_of(origin, "reason") ? ": " : "",
           str_of(origin, "reason") ? str_of(origin, "reason") : "");
  if (cJSON_IsNumber(score))
    printf("- score: %.3f (the mean of the scored steps)\n",
           score->valuedouble);
  printf("\n## Input\n\n");
  md_value(cJSON_GetObjectItemCaseSensitive(doc, "input"));
  printf("## Steps\n\n");
  const cJSON *s;
  size_t i = 0;
  cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(doc, "steps"))
    md_step(i++, s);
  if (cJSON_IsObject(err)) {
    printf("## Error\n\n");
    md_block("text", str_of(err, "message") ? str_of(err, "message") : "");
    return;
  }
  printf("## Output\n\n");
  md_value(cJSON_GetObjectItemCaseSensitive(doc, "output"));
}

/* ---------------------------------------------------------- command */

int cli_export(cli_ctx *ctx, int argc, char **argv) {
  if (argc != 2 || argv[1][0] == '-')
    return cli_usage_error("usage: cairn export ID [--format json|md]");
  cairn_journal *j;
  cairn_reader *r;
  cairn_run_info info;
  int rc = cli_open(ctx, true, &j);
  if (rc)
    return cairn_err_exit_code(rc);
  if ((rc = cairn_reader_begin(j, &r)) != 0) {
    rc = cli_fail(rc, j, "reading the journal");
    cairn_journal_close(j);
    return rc;
  }
  int status = EXIT_OK;
  rc = cli_find_run(ctx, j, r, argv[1], &info);
  if (rc)
    status = cairn_err_exit_code(rc);
  cJSON *doc = rc ? NULL : present_export(ctx->home, r, &info, &rc);
  if (status == EXIT_OK && doc == NULL)
    status = cli_fail(rc, j, "reading the run");
  if (doc && ctx->json)
    cli_print_json(doc);
  else if (doc) {
    print_md(doc);
    cJSON_Delete(doc);
  }
  cairn_reader_end(r);
  cairn_journal_close(j);
  return status;
}
