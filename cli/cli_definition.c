/*
 * cli_definition.c — reading a definition FILE as the tool hands it to
 * the engine: an llm step's "prompt": "@path" (or "system": "@path") is
 * replaced by the text of that file, the path taken relative to the
 * definition file's directory. So the prompt is part of the definition's
 * content and its hash: editing the prompt file later makes a new version
 * at the next registration, and never changes a past run. The engine
 * never reads files for a prompt (a worker may run on another machine);
 * the C API takes the text itself.
 */
#include "cli.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

