/*
 * cli_llm.c — the llm step kind in the tool: prompt files in definition
 * files, and what `cairn show` says about an llm attempt.
 *
 * Prompt files. In a definition FILE, an llm step's "prompt": "@path"
 * (or "system": "@path") is replaced by the text of that file, the path
 * taken relative to the definition file's directory, before the JSON
 * reaches the engine. So the prompt is part of the definition's content
 * and its hash: editing the prompt file later makes a new version at the
 * next registration, and never changes a past run. The engine never
 * reads files for a prompt (a worker may run on another machine); the
 * C API takes the text itself.
 *
 * Show. The facts of an attempt come from its events: the rendered
 * model, prompt and system from step.started's input; tokens, finish
 * reason and request id from step.completed's meta (or, for a failure
 * that cost tokens, from step.failed's details); the cost from the
 * prices of $CAIRN_HOME/config.json (cairn_config_llm_price), when the
 * model has one.
 */
#include "cli.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Characters of a prompt shown in the text trace. */
#define SHOWN_PROMPT 300

/* ------------------------------------------------------ prompt files */

/* Replaces with[key] = "@path" by the file's text; returns an exit
 * status (0 = go on). */
static int inline_file(cJSON *with, const char *key, const char *dir,
                       const char *step, bool *changed) {
  cJSON *v = cJSON_GetObjectItemCaseSensitive(with, key);
  char path[4200];
  if (!cJSON_IsString(v) || v->valuestring[0] != '@')
    return 0;
  const char *rel = v->valuestring + 1;
  if (rel[0] == '/')
    snprintf(path, sizeof path, "%s", rel);
  else
    snprintf(path, sizeof path, "%s/%s", dir, rel);
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return cli_usage_error("step %s: with.%s names the file %s (%s), which "
                           "cannot be read; the path is relative to the "
                           "definition file", step, key, rel, path);
  fclose(f);
  char *text = cli_read_file(path);
  if (text == NULL)
    return EXIT_ERROR;
  size_t n = strlen(text);
  if (n > 0 && text[n - 1] == '\n') /* the file's last line ending */
    text[--n] = '\0';
  cJSON_SetValuestring(v, text);
  free(text);
  *changed = true;
  return 0;
}

char *cli_read_definition(const char *file, int *status) {
  char *text = cli_read_file(file), *dir_buf = strdup(file);
  cJSON *doc = text ? cJSON_Parse(text) : NULL;
  const cJSON *step;
  bool changed = false;
  *status = text ? 0 : 3;
  const char *dir = dir_buf ? dirname(dir_buf) : ".";
  cJSON_ArrayForEach(step, cJSON_GetObjectItemCaseSensitive(doc, "steps")) {
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(step, "kind");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(step, "name");
    cJSON *with = cJSON_GetObjectItemCaseSensitive(step, "with");
    const char *sn = cJSON_IsString(name) ? name->valuestring : "?";
    if (!cJSON_IsString(kind) || strcmp(kind->valuestring, "llm") != 0 ||
        !cJSON_IsObject(with))
      continue;
    *status = inline_file(with, "prompt", dir, sn, &changed);
    if (*status == 0)
      *status = inline_file(with, "system", dir, sn, &changed);
    if (*status)
      break;
  }
  if (*status == 0 && changed) {
    char *json = cJSON_PrintUnformatted(doc);
    free(text);
    text = json;
    *status = text ? 0 : EXIT_ERROR;
  }
  if (*status) {
    free(text);
    text = NULL;
  }
  cJSON_Delete(doc);
  free(dir_buf);
  return text; /* not JSON: as read, for the engine to report */
}

/* ------------------------------------------------------------- show */

bool cli_llm_step(const cJSON *def_step) {
  const cJSON *kind = cJSON_GetObjectItemCaseSensitive(def_step, "kind");
  return cJSON_IsString(kind) && strcmp(kind->valuestring, "llm") == 0;
}

static cJSON *parse_str(cairn_str s) {
  return s.ptr ? cJSON_ParseWithLength(s.ptr, s.len) : NULL;
}

static void copy(cJSON *o, const char *key, const cJSON *from,
                 const char *name) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(from, name);
  cJSON_AddItemToObject(o, key, v && !cJSON_IsObject(v) && !cJSON_IsArray(v)
                                    ? cJSON_Duplicate(v, 1)
                                    : cJSON_CreateNull());
}

/* The cost of the tokens at the model's price, or NULL. */
static cJSON *cost_of(const char *home, const cJSON *model,
                      const cJSON *in, const cJSON *out) {
  static bool warned;
  cairn_llm_price p;
  char err[600] = "";
  if (!cJSON_IsString(model) || !cJSON_IsNumber(in) || !cJSON_IsNumber(out))
    return cJSON_CreateNull();
  int rc = cairn_config_llm_price(home, model->valuestring, &p, err,
                                  sizeof err);
  if (rc && rc != CAIRN_ENOTFOUND && !warned) {
    fprintf(stderr, "cairn: %s; costs are not shown\n", err);
    warned = true;
  }
  if (rc)
    return cJSON_CreateNull();
  return cJSON_CreateNumber(in->valuedouble * p.input_per_mtok / 1e6 +
                            out->valuedouble * p.output_per_mtok / 1e6);
}

cJSON *cli_llm_attempt(const char *home, const cairn_event *start,
                       const cairn_event *end) {
  cJSON *o = cJSON_CreateObject();
  cJSON *in = parse_str(start->input);
  cJSON *rec = end->type == CAIRN_EV_STEP_COMPLETED ? parse_str(end->meta)
               : end->type == CAIRN_EV_STEP_FAILED  ? parse_str(end->details)
                                                    : NULL;
  const cJSON *usage = cJSON_GetObjectItemCaseSensitive(rec, "usage");
  copy(o, "model", in, "model");
  copy(o, "prompt", in, "prompt");
  copy(o, "system", in, "system");
  copy(o, "input_tokens", usage, "input_tokens");
  copy(o, "output_tokens", usage, "output_tokens");
  cJSON_AddItemToObject(
      o, "cost_usd",
      cost_of(home, cJSON_GetObjectItemCaseSensitive(o, "model"),
              cJSON_GetObjectItemCaseSensitive(o, "input_tokens"),
              cJSON_GetObjectItemCaseSensitive(o, "output_tokens")));
  copy(o, "finish_reason", rec, "finish_reason");
  copy(o, "request_id", rec, "request_id");
  cJSON_Delete(in);
  cJSON_Delete(rec);
  return o;
}

/* A text on one line, shortened to `max` bytes. */
static void print_line(const char *label, const cJSON *v, size_t max) {
  if (!cJSON_IsString(v))
    return;
  const char *s = v->valuestring;
  size_t n = strlen(s);
  printf("      %-6s ", label);
  for (size_t i = 0; i < n && i < max; i++)
    putchar(s[i] == '\n' || s[i] == '\r' || s[i] == '\t' ? ' ' : s[i]);
  printf("%s\n", n > max ? "..." : "");
}

void cli_llm_print(const char *home, const cairn_event *start,
                   const cairn_event *end) {
  cJSON *o = cli_llm_attempt(home, start, end);
  const cJSON *model = cJSON_GetObjectItemCaseSensitive(o, "model");
  const cJSON *in = cJSON_GetObjectItemCaseSensitive(o, "input_tokens");
  const cJSON *out = cJSON_GetObjectItemCaseSensitive(o, "output_tokens");
  const cJSON *cost = cJSON_GetObjectItemCaseSensitive(o, "cost_usd");
  const cJSON *fin = cJSON_GetObjectItemCaseSensitive(o, "finish_reason");
  printf("      model  %s", cJSON_IsString(model) ? model->valuestring : "?");
  if (cJSON_IsNumber(in) && cJSON_IsNumber(out))
    printf("  tokens %.0f in / %.0f out", in->valuedouble,
           out->valuedouble);
  if (cJSON_IsNumber(cost))
    printf("  cost $%.6f", cost->valuedouble);
  if (cJSON_IsString(fin))
    printf("  finish %s", fin->valuestring);
  putchar('\n');
  print_line("system", cJSON_GetObjectItemCaseSensitive(o, "system"),
             SHOWN_PROMPT);
  print_line("prompt", cJSON_GetObjectItemCaseSensitive(o, "prompt"),
             SHOWN_PROMPT);
  cJSON_Delete(o);
}
