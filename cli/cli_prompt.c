/*
 * cli_prompt.c — `cairn prompt add|list|show`: prompt artifacts
 * (docs/prompts.md), the texts a replay or rerun can name by artifact id
 * and content hash (--prompt-artifact ID --prompt-hash sha256:HEX).
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "cairn prompt add NAME (FILE | --text TEXT) | list | "
    "show ID [--hash sha256:HEX]";

static int prompt_add(cli_ctx *ctx, const char *name, const char *file,
                      const char *text) {
  char *owned = NULL;
  if (file) {
    if ((owned = cli_read_file(file)) == NULL)
      return EXIT_USAGE;
    size_t n = strlen(owned);
    if (n && owned[n - 1] == '\n') /* as @file prompts: one final newline */
      owned[n - 1] = '\0';
    text = owned;
  }
  cairn_engine *e;
  cairn_prompt_added out;
  int rc = cli_engine_open(ctx, 0, &e);
  if (rc == 0) {
    rc = cairn_engine_prompt_add(e, name, text, &out);
    if (rc)
      fprintf(stderr, "cairn: prompt add: %s\n", cairn_engine_errmsg(e));
    else if (ctx->json)
      cli_print_json(present_prompt_added(&out));
    else
      printf("%s %s sha256:%s (revision %zu)\n", out.id,
             out.added ? "added" : "unchanged, already the latest:",
             out.hash, out.revisions);
    cairn_engine_close(e);
  }
  free(owned);
  return cairn_err_exit_code(rc);
}

static int prompt_list(cli_ctx *ctx) {
  cairn_journal *j;
  cairn_reader *r;
  cJSON *doc = NULL;
  int rc = cli_open(ctx, true, &j);
  if (rc)
    return cairn_err_exit_code(rc);
  if ((rc = cairn_reader_begin(j, &r)) == 0) {
    rc = present_prompts(r, ctx->ns, NULL, (size_t)-1, &doc);
    cairn_reader_end(r);
  }
  int status = rc ? cli_fail(rc, j, "listing prompts") : EXIT_OK;
  cairn_journal_close(j);
  if (rc)
    return status;
  if (ctx->json) {
    cli_print_json(doc);
    return EXIT_OK;
  }
  const cJSON *p;
  cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(doc, "prompts")) {
    const cJSON *wf = cJSON_GetObjectItemCaseSensitive(p, "workflow");
    printf("%-40s %3d revision%s  latest %.19s...%s%s\n",
           cJSON_GetObjectItemCaseSensitive(p, "id")->valuestring,
           cJSON_GetObjectItemCaseSensitive(p, "revisions")->valueint,
           cJSON_GetObjectItemCaseSensitive(p, "revisions")->valueint == 1
               ? " " : "s",
           cJSON_GetObjectItemCaseSensitive(p, "latest")->valuestring,
           cJSON_IsString(wf) ? "  step of " : "",
           cJSON_IsString(wf) ? wf->valuestring : "");
  }
  cJSON_Delete(doc);
  return EXIT_OK;
}

static int prompt_show(cli_ctx *ctx, const char *id, const char *hash) {
  cairn_journal *j;
  cairn_reader *r;
  cairn_prompt p;
  cJSON *doc = NULL;
  int rc = cli_open(ctx, true, &j);
  if (rc)
    return cairn_err_exit_code(rc);
  if ((rc = cairn_reader_begin(j, &r)) != 0) {
    int status = cli_fail(rc, j, "reading prompts");
    cairn_journal_close(j);
    return status;
  }
  rc = cairn_reader_prompt(r, ctx->ns, id, &p);
  if (rc == 0) {
    doc = present_prompt(r, &p, true);
    cairn_prompt_free(&p);
  }
  else {
    fprintf(stderr, "cairn: %s; `cairn prompt list` lists them\n",
            cairn_journal_errmsg(j));
  }
  cairn_reader_end(r);
  cairn_journal_close(j);
  if (rc)
    return cairn_err_exit_code(rc);
  const cJSON *v, *hist = cJSON_GetObjectItemCaseSensitive(doc, "history");
  if (hash) { /* one revision's text, as it is */
    cJSON_ArrayForEach(v, hist) {
      if (strcmp(cJSON_GetObjectItemCaseSensitive(v, "hash")->valuestring,
                 hash) == 0) {
        fputs(cJSON_GetObjectItemCaseSensitive(v, "text")->valuestring,
              stdout);
        fputc('\n', stdout);
        cJSON_Delete(doc);
        return EXIT_OK;
      }
    }
    fprintf(stderr, "cairn: prompt %s has no revision %s; `cairn prompt "
            "show %s` lists them\n", id, hash, id);
    cJSON_Delete(doc);
    return cairn_err_exit_code(CAIRN_ENOTFOUND);
  }
  if (ctx->json) {
    cli_print_json(doc);
    return EXIT_OK;
  }
  const cJSON *wf = cJSON_GetObjectItemCaseSensitive(doc, "workflow");
  printf("%s", id);
  if (cJSON_IsString(wf))
    printf("  the prompt of step %s of %s",
           cJSON_GetObjectItemCaseSensitive(doc, "step")->valuestring,
           wf->valuestring);
  printf("\n");
  cJSON_ArrayForEach(v, hist) {
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(v, "definition");
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(d, "version");
    printf("  %3d  %s  %s", 
           cJSON_GetObjectItemCaseSensitive(v, "revision")->valueint,
           cJSON_GetObjectItemCaseSensitive(v, "hash")->valuestring,
           cJSON_GetObjectItemCaseSensitive(v, "time")->valuestring);
    if (cJSON_IsNumber(ver))
      printf("  definition version %d", ver->valueint);
    else if (cJSON_IsObject(d))
      printf("  definition %.12s", 
             cJSON_GetObjectItemCaseSensitive(d, "hash")->valuestring);
    else
      printf("  added by hand");
    printf("\n");
  }
  const cJSON *last = cJSON_GetArrayItem(hist, cJSON_GetArraySize(hist) - 1);
  printf("latest text:\n%s\n",
         cJSON_GetObjectItemCaseSensitive(last, "text")->valuestring);
  cJSON_Delete(doc);
  return EXIT_OK;
}

int cli_prompt(cli_ctx *ctx, int argc, char **argv) {
  if (argc >= 3 && strcmp(argv[1], "add") == 0) {
    const char *text = NULL, *file = NULL;
    for (int i = 3; i < argc; i++) {
      if (strcmp(argv[i], "--text") == 0 && i + 1 < argc && !text)
        text = argv[++i];
      else if (argv[i][0] != '-' && !file)
        file = argv[i];
      else
        return cli_usage_error("prompt add: unexpected '%s'; usage: %s",
                               argv[i], usage);
    }
    if ((text == NULL) == (file == NULL))
      return cli_usage_error("prompt add %s: give the text as a FILE or as "
                             "--text TEXT (one of the two)", argv[2]);
    return prompt_add(ctx, argv[2], file, text);
  }
  if (argc == 2 && strcmp(argv[1], "list") == 0)
    return prompt_list(ctx);
  if (argc >= 3 && strcmp(argv[1], "show") == 0) {
    if (argc == 3)
      return prompt_show(ctx, argv[2], NULL);
    if (argc == 5 && strcmp(argv[3], "--hash") == 0)
      return prompt_show(ctx, argv[2], argv[4]);
  }
  return cli_usage_error("usage: %s", usage);
}
